"""The database opens in WAL mode, migrates with a backup first, and refuses damaged files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dataelan_desktop.core import paths
from dataelan_desktop.core.db import open_database
from dataelan_desktop.core.db.engine import CorruptDatabaseError, list_backups
from dataelan_desktop.core.db.migrations import SCHEMA_HEAD


def test_schema_head_constant_matches_alembic():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(paths.__file__).parent / "db" / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_heads() == [SCHEMA_HEAD]


def test_new_database_lives_in_data_home_in_wal_mode(data_home: Path):
    db = open_database()
    try:
        assert db.path == data_home / "dataelan.sqlite3"
        with db.engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            tables = {r[0] for r in con.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert {
            "projects",
            "conversations",
            "messages",
            "provider_configs",
            "model_profiles",
            "messages_fts",
        } <= tables
        assert db.integrity_check() == "ok"
    finally:
        db.close()


def test_a_database_behind_the_code_is_backed_up_before_migrating(data_home: Path, monkeypatch):
    from dataelan_desktop.core.chat import ChatStore
    from dataelan_desktop.core.db import engine

    db = open_database()
    ChatStore(db).create_project("Kept")
    db.close()
    assert list_backups(data_home / "dataelan.sqlite3", "before-") == []  # a current schema needs no backup
    # the code now expects a newer schema than the file has: it must copy the file first
    monkeypatch.setattr(engine, "SCHEMA_HEAD", "9999_newer")
    migrated = []
    monkeypatch.setattr(engine, "_migrate", lambda eng, path: migrated.append(path))
    open_database().close()
    backups = list_backups(data_home / "dataelan.sqlite3", "before-")
    assert len(backups) == 1 and migrated
    assert "before-9999_newer" in backups[0].name
    con = sqlite3.connect(backups[0])
    try:
        assert con.execute("SELECT name FROM projects").fetchall() == [("Kept",)]
    finally:
        con.close()


def test_interrupted_replies_of_dead_processes_are_marked_on_open(data_home: Path):
    from dataelan_desktop.core.chat import ChatStore
    from dataelan_desktop.core.db.tables import Message

    db = open_database()
    conversation = ChatStore(db).create_conversation()

    def add(s):
        s.add(Message(conversation_id=conversation.id, role="assistant", content="half", status="streaming",
                      stream_owner="ghost-host:1"))  # fmt: skip
        s.add(Message(conversation_id=conversation.id, role="assistant", content="dead", status="streaming",
                      stream_owner=f"{__import__('socket').gethostname()}:999999"))  # fmt: skip

    db.call(add)
    db.close()
    db = open_database()
    try:
        statuses = {m.content: m.status for m in ChatStore(db).messages(conversation.id)}
    finally:
        db.close()
    # a dead local process's reply is interrupted; another machine's (synced) row is not ours to judge
    assert statuses == {"half": "streaming", "dead": "interrupted"}


def test_damaged_file_is_reported_and_left_untouched(data_home: Path):
    path = data_home / "dataelan.sqlite3"
    garbage = b"this is not a database" * 200
    path.write_bytes(garbage)
    with pytest.raises(CorruptDatabaseError) as err:
        open_database()
    assert "damaged" in str(err.value) and "untouched" in str(err.value)
    assert path.read_bytes() == garbage
