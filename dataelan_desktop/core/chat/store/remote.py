"""Merging changes pulled from the sync server into the chat tables: core/sync/apply.py decides what
to write by the merge rules, this writes it (many new messages indexed for search in one statement)
and derives each conversation's last activity, which is never synced."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Conversation, Message


class RemoteMixin:
    """Changes pulled from the sync server (a part of :class:`ChatStore`; core/sync/engine.py calls this)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    def apply_remote(self, changes: Sequence[Any]) -> Changes:
        """Merge pulled changes to projects, conversations and messages (core/sync/apply.py decides what
        to write, by the merge rules; this store writes it), then publish what changed."""
        from ...sync.apply import remote_writes, touched  # sync's edge: loaded once signed in
        from ..bulk_insert import insert_or_keep
        from ..search_batch import BATCH_MIN, BatchIndex

        seen = touched(changes, {"messages": "conversation_id"})
        talked = sorted(seen.parents.get("messages", ()))

        inserted = sum(1 for c in changes if c.table == "messages" and c.kind == "insert")

        def write(s: Session) -> None:
            # many new messages (a first sync): indexed for search in one statement, not by the per-row trigger
            batch = BatchIndex(s.connection()) if inserted >= BATCH_MIN else None
            for statement, params in remote_writes(s, changes):
                new_messages = getattr(statement, "is_insert", False) and statement.table is Message.__table__
                if batch is not None:
                    if new_messages:
                        batch.begin()
                    else:
                        batch.finish()  # before any update: the update trigger expects the old text indexed
                if new_messages:  # many rows: one prepared statement, not SQLAlchemy's per-row bookkeeping
                    insert_or_keep(s.connection(), Message.__table__, params)
                else:
                    s.execute(statement, params)
            if batch is not None:
                batch.finish()
            newest = (
                select(func.max(Message.created_at))
                .where(Message.conversation_id == Conversation.id)
                .scalar_subquery()
            )
            for i in range(0, len(talked), 400):  # last_message_at is derived here, never synced
                s.execute(
                    update(Conversation)
                    .where(Conversation.id.in_(talked[i : i + 400]))
                    .values(last_message_at=func.coalesce(newest, Conversation.created_at))
                )

        self.db.call(write)
        return self._publish(
            Changes(
                projects="projects" in seen.tables,
                conversations=frozenset(seen.rows.get("conversations", ())),
                conversation_list=bool(seen.tables & {"projects", "conversations"}),
                messages=frozenset(seen.parents.get("messages", ())),
            )
        )
