"""Large history: full-text search over 1,000,000 messages and opening a 2,000-message conversation.

The generated database (10,000 conversations, 1,000,000 messages) is cached in
bench/.cache/ so later runs skip the minute it takes to build.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from pathlib import Path

from .harness import Figure, median_of

CACHE = Path(__file__).parent / ".cache"
CONVERSATIONS, MESSAGES = 10_000, 1_000_000
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
         "romeo sierra tango uniform victor whiskey xray yankee zulu sourdough parser kernel window stream").split()  # fmt: skip


def big_database() -> Path:
    """Return a data folder whose database holds the large history (built once)."""
    home = CACHE / "large-home"
    db = home / "dataelan.sqlite3"
    if db.exists():
        return home
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["DATAELAN_HOME"] = str(home)
    from dataelan_desktop.core.db import open_database

    open_database().close()  # the real schema, through the migrations
    con = sqlite3.connect(db)
    triggers = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='trigger' AND name LIKE 'messages_fts_%'"
    ).fetchall()
    for name, _sql in triggers:
        con.execute(f"DROP TRIGGER {name}")  # bulk load first, index once at the end
    rng = random.Random(1)
    now = "2026-01-01 00:00:00.000000"
    conversations = [(str(uuid.uuid4()), f"Conversation {i}") for i in range(CONVERSATIONS)]
    con.executemany(
        "INSERT INTO conversations (id, title, title_is_automatic, pinned, archived, settings, created_at, updated_at) "
        "VALUES (?, ?, 0, 0, 0, '{}', ?, ?)",
        [(cid, title, now, now) for cid, title in conversations],
    )
    per = MESSAGES // CONVERSATIONS
    batch = []
    for cid, _title in conversations:
        parent = None
        for i in range(per):
            mid = str(uuid.uuid4())
            text = " ".join(rng.choice(WORDS) for _ in range(12))
            batch.append((mid, cid, parent, "user" if i % 2 == 0 else "assistant", text, now, now))
            parent = mid
        if len(batch) >= 50_000:
            con.executemany(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, status, attachments, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'complete', '[]', ?, ?)",
                batch,
            )
            batch.clear()
    if batch:
        con.executemany(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, status, attachments, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'complete', '[]', ?, ?)",
            batch,
        )
    con.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    for _name, sql in triggers:
        con.execute(sql)
    con.commit()
    con.close()
    return home


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    home = big_database()
    os.environ["DATAELAN_HOME"] = str(home)
    from dataelan_desktop.core.db import open_database
    from dataelan_desktop.core.search import fts_query, search_messages

    db = open_database()
    queries = ["sourdough kernel", "parser window", "stream", "foxtrot tango"]
    raw = sqlite3.connect(home / "dataelan.sqlite3")

    def plain() -> float:
        began = time.perf_counter()
        for q in queries:
            raw.execute(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT 50", (fts_query(q),)
            ).fetchall()
        return (time.perf_counter() - began) / len(queries) * 1000

    def app() -> float:
        began = time.perf_counter()
        for q in queries:
            assert search_messages(db, q, limit=50)
        return (time.perf_counter() - began) / len(queries) * 1000

    plain()
    app()
    baseline = median_of(5, plain)
    search = median_of(5, app)
    db.close()
    raw.close()
    return [
        Figure("history: raw FTS5 MATCH, first 50 rowids", baseline, "ms", None, "baseline", True),
        Figure(
            "history: search 1,000,000 messages, first page", search, "ms", baseline, "<= 50 ms", search <= 50
        ),
    ]
