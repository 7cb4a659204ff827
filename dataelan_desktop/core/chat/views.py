"""What the chat store hands out: plain frozen views of projects, conversations and messages (never
ORM rows, so that any thread or widget may hold them), and the errors it raises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..db.tables import Conversation, Message, Project

TITLE_LENGTH = 60


class NotFoundError(LookupError):
    """A project, conversation or message id that does not exist (or was deleted)."""


def automatic_title(text: str) -> str:
    line = " ".join(text.strip().split())
    if len(line) <= TITLE_LENGTH:
        return line or "New conversation"
    return line[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"


# -- what the store hands out -----------------------------------------------------------


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    instructions: str | None
    default_model: str | None
    sort_order: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Project) -> ProjectView:
        return cls(row.id, row.name, row.instructions, row.default_model, row.sort_order or 0,
                   row.created_at, row.updated_at)  # fmt: skip


@dataclass(frozen=True)
class ConversationView:
    id: str
    project_id: str | None
    title: str
    title_is_automatic: bool
    system_prompt: str | None
    model: str | None  # "provider:id"
    pinned: bool
    archived: bool
    settings: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    #: the leaf of the branch this device shows; None means "the newest leaf"
    current_leaf_id: str | None = None
    agent_id: str | None = None  # the agent answering in it (core/agents)

    @classmethod
    def of(cls, row: Conversation, shown_leaf: str | None) -> ConversationView:
        return cls(row.id, row.project_id, row.title, bool(row.title_is_automatic), row.system_prompt,
                   row.model, bool(row.pinned), bool(row.archived), dict(row.settings or {}),
                   row.created_at, row.updated_at, shown_leaf, row.agent_id)  # fmt: skip


#: the message columns a view carries, in the order of :class:`StoredMessage`'s fields
MESSAGE_COLUMNS = (
    Message.id, Message.conversation_id, Message.parent_id, Message.role, Message.content, Message.reasoning,
    Message.status, Message.model, Message.error, Message.stop_reason, Message.input_tokens,
    Message.output_tokens, Message.ttft_ms, Message.duration_ms, Message.attachments, Message.stream_owner,
    Message.created_at, Message.updated_at, Message.generation_ms, Message.usage_estimated, Message.tool,
)  # fmt: skip


@dataclass(frozen=True)
class StoredMessage:
    """A message as saved (read with plain column selects: no ORM row is built for it)."""

    id: str
    conversation_id: str
    parent_id: str | None
    role: str
    content: str
    reasoning: str | None
    status: str
    model: str | None
    error: str | None
    stop_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    ttft_ms: float | None
    duration_ms: float | None
    attachments: list[dict[str, Any]]  # attached text files: [{"name": ..., "text": ...}]
    stream_owner: str | None
    created_at: datetime
    updated_at: datetime
    generation_ms: float | None  # the generating side's first-to-last-token time
    usage_estimated: bool  # the token counts were counted here, the server sent none
    #: an assistant turn's tool calls {"calls": [...]}, or a tool result's call (see tables.Message.tool)
    tool: dict[str, Any] | None = None

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> StoredMessage:
        values = list(row)
        values[14] = list(values[14] or ())  # attachments: a copy, not the row's
        values[19] = bool(values[19])  # usage_estimated
        values[20] = dict(values[20]) if values[20] else None  # tool: a copy, not the row's
        return cls(*values)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """An assistant turn's calls: [{id, name, arguments}] (empty for any other message)."""
        return list((self.tool or {}).get("calls") or []) if self.role == "assistant" else []


@dataclass(frozen=True)
class ConversationSummary:
    """What a list of conversations shows, without loading whole rows."""

    id: str
    title: str
    pinned: bool
    project_id: str | None


@dataclass(frozen=True)
class ShownMessage:
    """A message of the branch on show, with where it sits among its siblings (``< 2/3 >``)."""

    message: StoredMessage
    branch_index: int
    branch_count: int


@dataclass(frozen=True)
class ShownConversation:
    conversation: ConversationView
    messages: tuple[ShownMessage, ...]
    #: the model its next message goes to: its own, else its project's default model (None: the picker's)
    model: str | None = None
