"""Crash recovery: replies a crash left marked streaming become interrupted, their text kept (run when
the database opens; see core/db/engine.py)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...db import Database
from ...db.tables import Message, MessageStatus


def mark_interrupted(db: Database) -> int:
    """Replies still marked streaming whose writing process is gone (or is this one, starting again)
    become interrupted, their text kept. Returns how many."""
    from ...db.engine import process_alive, this_process

    def fix(session: Session) -> int:
        rows = session.execute(
            select(Message.id, Message.stream_owner).where(Message.status == MessageStatus.STREAMING)
        ).all()
        dead = [mid for mid, owner in rows if not process_alive(owner) or owner == this_process()]
        if dead:
            session.execute(
                update(Message)
                .where(Message.id.in_(dead))
                .values(status=MessageStatus.INTERRUPTED, stream_owner=None)
            )
        return len(dead)

    return db.call(fix)
