"""Writing a checked import (``core/transfer`` read and validated it) into the chat tables in one
transaction: its project if new, its conversations and their messages, the branch each shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Conversation, Message, Project, new_id
from .branches import show_in
from .rows import _add, _alive

if TYPE_CHECKING:  # the importer's types; core/transfer imports this module, not the other way round
    from ...transfer.parsed import ImportResult, ParsedImport


class ImportsMixin:
    """Imports (a part of :class:`ChatStore`; core/transfer calls this)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    def import_conversations(self, parsed: ParsedImport) -> ImportResult:
        """Write a checked import (``core/transfer`` parsed and validated it) in one transaction: all of
        it or, on any failure, nothing; then publish what changed. Conversations imported before (same
        source id) are skipped and counted."""
        from ...transfer.parsed import ImportResult

        def write(s: Session) -> tuple[list[str], int, int, str | None]:
            known = {
                (c.settings or {}).get("import_source")
                for c in s.scalars(select(Conversation).where(_alive(Conversation)))
            }
            project_id = None
            if parsed.project is not None:
                project = s.scalars(
                    select(Project).where(_alive(Project), Project.name == parsed.project.name)
                ).first()
                if project is None:
                    project = _add(s, Project(name=parsed.project.name, instructions=parsed.project.instructions,
                                              default_model=parsed.project.default_model))  # fmt: skip
                project_id = project.id
            created, count, skipped = [], 0, 0
            for conv in parsed.conversations:
                if conv.source_id in known:
                    skipped += 1
                    continue
                conversation = Conversation(
                    project_id=project_id, title=conv.title, title_is_automatic=False, system_prompt=conv.system_prompt,
                    model=conv.model, settings={"import_source": conv.source_id},
                )  # fmt: skip
                if conv.created_at:
                    conversation.created_at = conversation.updated_at = conv.created_at
                _add(s, conversation)
                new_ids = {m.source_id: new_id() for m in conv.messages}
                for m in conv.messages:
                    row = Message(
                        id=new_ids[m.source_id], conversation_id=conversation.id,
                        parent_id=new_ids[m.parent_source_id] if m.parent_source_id else None,
                        role=m.role, content=m.content, model=m.model, status=m.status, error=m.error,
                        stop_reason=m.stop_reason, input_tokens=m.input_tokens, output_tokens=m.output_tokens,
                        ttft_ms=m.ttft_ms, duration_ms=m.duration_ms,
                        attachments=[a.record() for a in m.attachments],
                        tool=dict(m.tool) if m.tool else None,
                    )  # fmt: skip
                    if m.created_at:
                        row.created_at = row.updated_at = m.created_at
                    s.add(row)
                s.flush()
                stamps = [m.created_at for m in conv.messages if m.created_at]
                conversation.last_message_at = max(stamps) if stamps else conversation.created_at
                leaf = conv.current_leaf_source_id
                if leaf:  # which branch is shown: this device's view state
                    show_in(s, conversation.id, new_ids.get(leaf))
                created.append(conversation.id)
                count += len(conv.messages)
                written.extend(conv.messages)
            return created, count, skipped, project_id

        written: list = []  # the messages of the conversations written (not those imported before)
        created, count, skipped, project_id = self.db.call(write)
        self._publish(Changes(projects=parsed.project is not None, conversation_list=True))
        return ImportResult(created, parsed.format, count, skipped, parsed.repaired_characters, project_id,
                            images_kept=sum(a.kind == "image" for m in written for a in m.attachments),
                            images_missing=parsed.images_missing, tool_steps=sum(m.role == "tool" for m in written))  # fmt: skip
