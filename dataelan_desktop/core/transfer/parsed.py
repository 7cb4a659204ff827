"""What an import file holds once it has been read and checked completely: plain, typed values.

Importers produce these; ``ChatStore.import_conversations`` writes them in one transaction.
Nothing here is an ORM row, and every field already has the type the database expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


class ImportFormatError(ValueError):
    """The file is not something the app can import; nothing was imported. The message is one line
    that names the first problem and where it is."""


@dataclass(frozen=True)
class Attachment:
    name: str
    text: str


@dataclass(frozen=True)
class ParsedMessage:
    source_id: str
    parent_source_id: str | None
    role: str  # user | assistant | system | tool
    content: str
    model: str | None = None
    status: str = "complete"
    created_at: datetime | None = None
    error: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    attachments: tuple[Attachment, ...] = ()
    #: an agent's turn {"calls": [...]} or a tool result's call (see core/db/tables.Message.tool)
    tool: dict[str, Any] | None = None


@dataclass(frozen=True)
class ParsedConversation:
    source_id: str  # "chatgpt:<id>" or "dataelan:<id>": importing the same file twice is recognised
    title: str
    messages: tuple[ParsedMessage, ...]
    current_leaf_source_id: str | None
    created_at: datetime | None = None
    system_prompt: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class ParsedProject:
    name: str
    instructions: str | None = None
    default_model: str | None = None


@dataclass(frozen=True)
class ParsedImport:
    format: str  # "dataelan" | "chatgpt"
    conversations: tuple[ParsedConversation, ...]
    project: ParsedProject | None = None
    repaired_characters: int = 0  # lone surrogates replaced by U+FFFD (broken emoji halves)


@dataclass(frozen=True)
class ImportResult:
    conversation_ids: list[str]
    format: str
    message_count: int
    skipped_duplicates: int = 0
    repaired_characters: int = 0
    project_id: str | None = None
