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
    """A text file (``kind`` "file": its ``text``) or an image (``kind`` "image": its bytes in
    ``data`` as read, then ``file``, its place in the data folder, once the import stored it)."""

    name: str
    text: str = ""
    kind: str = "file"
    mime: str | None = None
    data: bytes | None = None
    file: str | None = None

    def record(self) -> dict[str, Any]:
        """The message's ``attachments`` entry."""
        if self.kind == "image":
            return {"kind": "image", "name": self.name, "mime": self.mime, "file": self.file}
        return {"name": self.name, "text": self.text}


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
    images_missing: int = 0  # images a message pointed at that the export did not hold (or not as images)


@dataclass(frozen=True)
class ImportResult:
    conversation_ids: list[str]
    format: str
    message_count: int
    skipped_duplicates: int = 0
    repaired_characters: int = 0
    project_id: str | None = None
    images_kept: int = 0
    images_missing: int = 0
    tool_steps: int = 0

    def summary(self) -> str:
        """One line for a person: what was imported, what was kept beside the text, what was not."""
        line = f"Imported {len(self.conversation_ids)} conversation(s), {self.message_count} message(s)"
        kept = []
        if self.images_kept:
            kept.append(f"{self.images_kept} image(s)")
        if self.tool_steps:
            kept.append(f"{self.tool_steps} tool step(s), shown collapsed")
        if kept:
            line += ", with " + " and ".join(kept)
        notes = []
        if self.skipped_duplicates:
            notes.append(f"{self.skipped_duplicates} conversation(s) were imported before")
        if self.images_missing:
            notes.append(f"{self.images_missing} image(s) could not be kept: not in the export")
        if self.repaired_characters:
            notes.append(f"{self.repaired_characters} broken character(s) replaced with �")
        return line + (f" ({'; '.join(notes)})" if notes else "") + "."
