"""Lists order conversations by their last message, not their last change (issue 16, item 10): the
sidebar's order survives a rename, a pin's removal or a branch switch, and databases made before are
ordered the same way once migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def _ids(services) -> list[str]:
    return [c.id for c in services.store.conversation_list(50)[0]]


def test_renaming_or_switching_a_branch_does_not_move_a_conversation(services):
    store = services.store
    older = store.create_conversation(title="Older")
    first_question = store.add_user_message(older.id, "First question", [], "openai:m")
    store.begin_reply(older.id, first_question, "openai:m", "host:1")
    second_reply = store.begin_reply(older.id, first_question, "openai:m", "host:1")
    newer = store.create_conversation(title="Newer")
    store.add_user_message(newer.id, "Newer question", [], "openai:m")
    assert _ids(services) == [newer.id, older.id]

    store.update_conversation(older.id, title="Older, renamed")
    store.switch_branch(second_reply, -1)
    store.set_conversation_setting(older.id, "context_overflow", "summarise")
    assert _ids(services) == [newer.id, older.id]  # changed, but no new message: it stays

    store.add_user_message(older.id, "A new message", [], "openai:m")
    assert _ids(services) == [older.id, newer.id]  # a new message brings it up


def test_a_migrated_database_orders_by_last_message(data_home: Path):
    from alembic import command
    from alembic.config import Config

    from dataelan_desktop.core.chat import ChatStore
    from dataelan_desktop.core.db import engine, open_database

    path = data_home / "dataelan.sqlite3"
    old = engine.make_engine(f"sqlite:///{path}")
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engine.__file__).parent / "migrations"))
    with old.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0006_agents")
    old.dispose()
    with sqlite3.connect(path) as con:
        # "renamed" was changed last, but "talked" had the last message
        for conversation, updated in (
            ("renamed", "2025-03-01 10:00:00.000000"),
            ("talked", "2025-01-01 10:00:00.000000"),
        ):
            con.execute(
                "INSERT INTO conversations (id, title, title_is_automatic, pinned, archived, settings, "
                "created_at, updated_at) VALUES (?, ?, 0, 0, 0, '{}', '2025-01-01 09:00:00.000000', ?)",
                (conversation, conversation, updated),
            )
        for message, conversation, stamp in (("m1", "renamed", "2025-01-01 09:30:00.000000"),
                                             ("m2", "talked", "2025-02-01 09:30:00.000000")):  # fmt: skip
            con.execute(
                "INSERT INTO messages (id, conversation_id, role, content, status, attachments, created_at, "
                "updated_at) VALUES (?, ?, 'user', 'hi', 'complete', '[]', ?, ?)",
                (message, conversation, stamp, stamp),
            )
    db = open_database(path)
    try:
        assert [c.title for c in ChatStore(db).conversation_list(10)[0]] == ["talked", "renamed"]
    finally:
        db.close()
