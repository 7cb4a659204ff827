"""Which branch a conversation shows is this device's view, kept apart from the conversation that syncs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dataelan_desktop.core.db.tables import Message


def _reply(services, conversation_id: str, parent: str | None, role: str, text: str) -> str:
    def add(s):
        message = Message(conversation_id=conversation_id, parent_id=parent, role=role, content=text)
        s.add(message)
        s.flush()
        return message.id

    return services.db.call(add)


def _columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as con:
        return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def test_switching_branches_changes_only_this_devices_view(services):
    conversation = services.store.create_conversation(title="Tides")
    question = _reply(services, conversation.id, None, "user", "Why tides?")
    first = _reply(services, conversation.id, question, "assistant", "The moon.")
    second = _reply(services, conversation.id, question, "assistant", "Gravity.")
    before = services.store.conversation(conversation.id)

    assert services.store.shown_leaf(conversation.id) is None  # nothing chosen: the newest branch
    assert [m.content for m in services.store.visible_messages(conversation.id)][-1] == "Gravity."
    assert services.store.switch_branch(second, -1) == first
    assert services.store.shown_leaf(conversation.id) == first
    assert [m.content for m in services.store.visible_messages(conversation.id)][-1] == "The moon."

    after = services.store.conversation(conversation.id)
    assert after.current_leaf_id == first
    # the conversation's own row, which sync copies, did not change: not even its updated_at
    assert (after.title, after.updated_at) == (before.title, before.updated_at)
    assert "current_leaf_id" not in _columns(services.db.path, "conversations")
    with sqlite3.connect(services.db.path) as con:
        assert con.execute("SELECT conversation_id, current_leaf_id FROM conversation_views").fetchall() == [
            (conversation.id, first)
        ]


def test_the_migration_keeps_the_shown_branch_of_every_conversation(data_home: Path):
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
        command.upgrade(cfg, "0003_templates")
    old.dispose()
    stamp = "2025-01-01 10:00:00.000000"
    with sqlite3.connect(path) as con:
        for conversation, leaf in (("c-shown", "m-first"), ("c-newest", None)):
            con.execute(
                "INSERT INTO conversations (id, title, title_is_automatic, pinned, archived, settings, "
                "current_leaf_id, created_at, updated_at) VALUES (?, ?, 0, 0, 0, '{}', ?, ?, ?)",
                (conversation, conversation, leaf, stamp, stamp),
            )
        for message, parent, text in (
            ("m-q", None, "Why?"),
            ("m-first", "m-q", "First."),
            ("m-second", "m-q", "Second."),
        ):
            con.execute(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, status, attachments, "
                "created_at, updated_at) VALUES (?, 'c-shown', ?, ?, ?, 'complete', '[]', ?, ?)",
                (message, parent, "user" if parent is None else "assistant", text, stamp, stamp),
            )

    db = open_database(path)
    try:
        store = ChatStore(db)
        assert store.shown_leaf("c-shown") == "m-first" and store.shown_leaf("c-newest") is None
        assert [m.content for m in store.visible_messages("c-shown")] == ["Why?", "First."]
        assert store.conversation("c-shown").updated_at.year == 2025
    finally:
        db.close()
    assert "current_leaf_id" not in _columns(path, "conversations")
    # (0009 added "chosen": under each message, the child last shown there; per-device too)
    assert _columns(path, "conversation_views") == {
        "conversation_id",
        "current_leaf_id",
        "chosen",
        "updated_at",
    }
