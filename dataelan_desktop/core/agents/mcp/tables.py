"""The ``mcp_servers`` table (written only by ``store.py``). Per device: a command and its folders
only make sense on the machine that has them, so these rows are not synced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...db.tables import Base, Stamped


class McpServerRow(Stamped, Base):
    __tablename__ = "mcp_servers"

    name: Mapped[str] = mapped_column(String(64), index=True)  # unique among live rows (checked in the store)
    transport: Mapped[str] = mapped_column(String(16))  # stdio | http
    command: Mapped[str | None] = mapped_column(Text, default=None)
    args: Mapped[list[Any]] = mapped_column(default=list)
    #: plain values only; the names in secret_env have their values in the keyring
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_env: Mapped[list[Any]] = mapped_column(default=list)
    cwd: Mapped[str | None] = mapped_column(Text, default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_headers: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    timeout: Mapped[float] = mapped_column(Float, default=30.0)  # seconds to start (spawn, initialize, list)
