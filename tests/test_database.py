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


def test_outdated_schema_is_backed_up_before_migrating(data_home: Path):
    db = open_database()
    from dataelan_desktop.core.chat import ChatStore

    ChatStore(db).create_project("Kept")
    db.close()
    # pretend the file comes from an older release
    con = sqlite3.connect(data_home / "dataelan.sqlite3")
    con.execute("UPDATE alembic_version SET version_num = '0001_initial'")
    con.commit()
    con.close()
    if SCHEMA_HEAD == "0001_initial":
        pytest.skip("only one revision exists: nothing to migrate from")
    db = open_database()
    db.close()
    backups = list_backups(data_home / "dataelan.sqlite3")
    assert backups, "a backup must be written before migrating"
    rows = sqlite3.connect(backups[0]).execute("SELECT name FROM projects").fetchall()
    assert rows == [("Kept",)]


def test_damaged_file_is_reported_and_left_untouched(data_home: Path):
    path = data_home / "dataelan.sqlite3"
    garbage = b"this is not a database" * 200
    path.write_bytes(garbage)
    with pytest.raises(CorruptDatabaseError) as err:
        open_database()
    assert "damaged" in str(err.value) and "untouched" in str(err.value)
    assert path.read_bytes() == garbage
