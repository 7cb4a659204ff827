"""Full-text search over every message (SQLite FTS5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the window imports SearchHit before the database layer is loaded
    from .db import Database

MARK_START, MARK_END = "\x02", "\x03"  # snippet markers the UI turns into highlighting


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    message_id: str
    conversation_title: str
    role: str
    snippet: str
    rank: float  # unused for ordering: hits come newest first
    archived: bool = False  # the conversation is archived (the hit opens it with an Unarchive button)


def fts_query(user_text: str) -> str | None:
    """Turn what a person typed into a safe FTS5 query: every word must match, the last as a prefix.

    Each term is quoted, so FTS syntax in the input (``"``, ``OR``, ``*``, ``C++``) is
    searched for as text instead of failing.
    """
    words = [w for w in re.findall(r"\w[\w'.+#-]*", user_text, flags=re.UNICODE) if w.strip()]
    if not words:
        return None
    terms = ['"' + w.replace('"', '""') + '"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)


def search_messages(
    db: Database, query: str, limit: int = 50, offset: int = 0, project_id: str | None = None
) -> list[SearchHit]:
    match = fts_query(query)
    if match is None:
        return []
    sql = (
        "SELECT m.conversation_id, m.id, c.title, m.role, "
        f"snippet(messages_fts, 0, '{MARK_START}', '{MARK_END}', '…', 12) AS snip, 0.0 AS rank, "
        "c.archived "
        "FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid "
        "JOIN conversations c ON c.id = m.conversation_id "
        "WHERE messages_fts MATCH :match AND m.deleted_at IS NULL AND c.deleted_at IS NULL "
        + ("AND c.project_id = :project " if project_id else "")
        # newest first: FTS5 walks its index in rowid order and stops after a page, where ranking
        # every hit by bm25 would score hundreds of thousands of rows on a large history
        + "ORDER BY messages_fts.rowid DESC LIMIT :limit OFFSET :offset"
    )
    params = {"match": match, "limit": limit, "offset": offset, "project": project_id}
    from sqlalchemy import text

    rows = db.call(lambda s: s.execute(text(sql), params).all())  # on the database's thread, like every read
    return [SearchHit(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]
