"""The ``agents`` table: saved agent profiles (written only by ``core/agents/store.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db.tables import Base, Stamped


class Agent(Stamped, Base):
    """A model with instructions, the tools it may use, a rule per tool and its limits."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(200))  # unique among live rows, case-insensitively (in code)
    model: Mapped[str | None] = mapped_column(String(300), default=None)  # "provider:id"; None: the chat's
    instructions: Mapped[str | None] = mapped_column(Text, default=None)
    #: tool names, "builtin:*" / "mcp:<server>:*" for all of a source, "files:<folder>" grants a folder
    tools: Mapped[list[Any]] = mapped_column(default=list)
    #: tool name → "always" | "ask" | "deny" (unlisted: read-only built-ins always, the rest ask)
    policies: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: max_steps, max_cost, tool_timeout, total_seconds, max_result_chars (unset: the defaults)
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
