"""Indexing a batch of new messages for search in one statement instead of row by row.

The ``messages_fts_ai`` trigger indexes each inserted message on its own; for a first sync of 100,000
messages that is most of the time (about 3x slower than one ``INSERT ... SELECT`` over the new rows).
:class:`BatchIndex` drops that trigger inside the caller's transaction, lets the caller insert, then
indexes every row added since it began and puts the trigger back, still in the same transaction:
a crash or an error rolls back rows, index and trigger together, so they never disagree.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

TRIGGER = "messages_fts_ai"
#: below this many inserted messages the trigger's per-row cost does not matter
BATCH_MIN = 200


class BatchIndex:
    """``begin()`` before the message inserts, ``finish()`` after them and before any update of a
    message's content (the update trigger removes the old text from the index, so it must be there)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._trigger_sql: str | None = None
        self._after = 0

    def begin(self) -> None:
        if self._trigger_sql is not None:
            return
        sql = self.conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (TRIGGER,)
        ).scalar()
        if sql is None:  # no trigger here (an older or repaired schema): nothing to batch
            return
        # new rows take rowids above the largest (messages has no AUTOINCREMENT and never reaches 2^63)
        self._after = self.conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM messages").scalar()
        self.conn.exec_driver_sql(f"DROP TRIGGER {TRIGGER}")
        self._trigger_sql = sql

    def finish(self) -> None:
        if self._trigger_sql is None:
            return
        self.conn.exec_driver_sql(
            "INSERT INTO messages_fts(rowid, content) SELECT rowid, content FROM messages WHERE rowid > ?",
            (self._after,),
        )
        self.conn.exec_driver_sql(self._trigger_sql)
        self._trigger_sql = None
