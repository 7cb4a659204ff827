"""The database file under hostile conditions: damaged pages, a newer schema, an empty file, a read-only
folder, a full disk, a removed WAL, another process writing. Each is said in one line for what it is,
nothing is written that should not be, and what can be read is recovered."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from dataelan_desktop.core.db.backups import list_backups
from tests.reliability.checks import error_line
from tests.reliability.tally import TALLY
from tests.support.cli import cli_env, popen_cli, run_cli
from tests.support.fake_openai import openai_stream

MESSAGES = 3000


def _export_with(messages: int) -> dict:
    rnd = random.Random(messages)
    rows, parent = [], None
    for i in range(messages):
        words = " ".join(rnd.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(40))
        rows.append({"id": f"m{i}", "parent_id": parent, "role": "user" if i % 2 == 0 else "assistant",
                     "content": f"message {i} {words}"})  # fmt: skip
        parent = f"m{i}"
    conversation = {"id": "c1", "title": "Long", "messages": rows, "current_leaf_id": parent}
    return {"format": "dataelan", "version": 1, "conversations": [conversation]}


def _imported_home(data_home: Path, tmp_path: Path, messages: int = MESSAGES) -> tuple[dict, str]:
    env = cli_env(data_home)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_export_with(messages)))
    imported = run_cli("import", str(export), env=env)
    assert imported.returncode == 0, imported.stderr
    return env, imported.stdout.splitlines()[1]


def _checkpoint(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def _damage_a_page_of_messages(db: Path) -> None:
    """Random bytes over one leaf page in the middle of the messages table (not its schema)."""
    _checkpoint(db)
    con = sqlite3.connect(db)
    pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name='messages' AND pagetype='leaf'")]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    victim = sorted(pages)[len(pages) // 2]
    data = bytearray(db.read_bytes())
    start = (victim - 1) * page_size + 8  # keep the page header: the damage is in the cells
    data[start : victim * page_size] = random.Random(7).randbytes(page_size - 8)
    db.write_bytes(bytes(data))


def test_random_bytes_in_the_middle_are_reported_in_one_line_and_recovered(data_home: Path, tmp_path: Path):
    env, conversation_id = _imported_home(data_home, tmp_path)
    db = data_home / "dataelan.sqlite3"
    _damage_a_page_of_messages(db)
    damaged = db.read_bytes()

    for command in (["history", "show", conversation_id], ["history", "list"], ["search", "gamma"]):
        line = error_line(run_cli(*command, env=env))
        assert "is damaged" in line and "dataelan db recover" in line, line
        TALLY["faults"] += 1
    assert db.read_bytes() == damaged  # nothing was written to the damaged file

    check = run_cli("db", "check", env=env)
    assert "is damaged" in error_line(check)

    recovered = run_cli("db", "recover", env=env)
    assert recovered.returncode == 0, recovered.stderr
    kept = [
        p
        for p in data_home.iterdir()
        if p.name.startswith("dataelan.sqlite3.damaged-") and "-" not in p.name[-4:]
    ]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged  # the damaged file is kept beside the new one
    assert run_cli("db", "check", env=env).returncode == 0
    con = sqlite3.connect(db)
    saved = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    con.close()
    assert MESSAGES - 40 <= saved < MESSAGES  # all but the rows on the damaged page
    assert f"recovered 1 conversations and {saved} messages" in recovered.stdout
    shown = run_cli("history", "show", conversation_id, env=env)
    assert shown.returncode == 0 and "message 0 " in shown.stdout
    found = run_cli("search", "gamma", env=env)  # the search index was rebuilt for what was recovered
    assert found.returncode == 0 and conversation_id in found.stdout


def test_a_newer_schema_is_refused_and_nothing_is_written(data_home: Path):
    env = cli_env(data_home)
    assert run_cli("history", "list", env=env).returncode == 0
    db = data_home / "dataelan.sqlite3"
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = '0042_from_the_future'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = {p: p.read_bytes() for p in data_home.rglob("*") if p.is_file() and "logs" not in p.parts}
    for _ in range(3):
        line = error_line(run_cli("history", "list", env=env))
        assert "written by a newer Dataelan (revision 0042_from_the_future); update the app" in line
        TALLY["faults"] += 1
    after = {p: p.read_bytes() for p in data_home.rglob("*") if p.is_file() and "logs" not in p.parts}
    assert after == before  # no backup per start, no migration attempt, not one byte changed


def test_an_empty_database_file_is_kept_and_said(data_home: Path):
    env = cli_env(data_home)
    db = data_home / "dataelan.sqlite3"
    db.write_bytes(b"")
    result = run_cli("history", "list", env=env)
    assert result.returncode == 0
    kept = list_backups(db, "empty")
    assert len(kept) == 1 and kept[0].stat().st_size == 0
    note = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(note) == 1 and "was empty (0 bytes)" in note[0] and kept[0].name in note[0]
    assert run_cli("history", "list", env=env).stderr == ""  # said once, when it happened
    TALLY["faults"] += 1


def test_daily_backups_rotate_and_backup_restore_put_data_back(data_home: Path, tmp_path: Path):
    env, conversation_id = _imported_home(data_home, tmp_path, messages=4)
    db = data_home / "dataelan.sqlite3"
    assert list_backups(db, "daily") == []  # a new database has nothing to back up yet
    run_cli("history", "list", env=env)
    daily = list_backups(db, "daily")
    assert len(daily) == 1
    assert run_cli("history", "list", env=env).returncode == 0
    assert list_backups(db, "daily") == daily  # once a day, not once per start
    # a day later, for a week and more: only the newest N stay
    assert run_cli("backup", "--keep", "3", env=env).returncode == 0
    for _ in range(5):
        for backup in list_backups(db, "daily"):
            os.utime(backup, (backup.stat().st_atime - 86400 * 2, backup.stat().st_mtime - 86400 * 2))
        assert run_cli("history", "list", env=env).returncode == 0
    assert len(list_backups(db, "daily")) == 3

    manual = run_cli("backup", env=env)
    assert manual.returncode == 0 and len(list_backups(db, "manual")) == 1
    listing = run_cli("backup", "--list", env=env).stdout
    assert list_backups(db, "manual")[0].name in listing
    assert (
        run_cli("import", str(tmp_path / "export.json"), env=env).returncode == 0
    )  # a change after the backup
    con = sqlite3.connect(db)
    assert (
        con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1
    )  # a duplicate import is skipped
    con.execute("UPDATE conversations SET title = 'changed after the backup'")
    con.commit()
    con.close()
    restored = run_cli("restore", list_backups(db, "manual")[0].name, env=env)
    assert restored.returncode == 0, restored.stderr
    before_restore = list_backups(db, "before-restore")
    assert len(before_restore) == 1 and before_restore[0].name in restored.stdout
    assert "Long" in run_cli("history", "list", env=env).stdout
    con = sqlite3.connect(before_restore[0])  # the replaced database is a backup now
    assert con.execute("SELECT title FROM conversations").fetchone()[0] == "changed after the backup"
    con.close()
    for backup in (data_home / "backups").iterdir():
        assert backup.stat().st_mode & 0o777 == 0o600
    TALLY["faults"] += 1  # a change undone from a backup


def _busy_lock(db: Path) -> sqlite3.Connection:
    """Another process's long write (an import) as SQLite sees it: the write lock, held."""
    con = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    return con


def test_a_chat_during_a_long_import_waits_then_says_busy(data_home: Path, server):
    server.default = openai_stream(["fine"])
    env = cli_env(data_home)
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    db = data_home / "dataelan.sqlite3"
    lock = _busy_lock(db)
    try:
        line = error_line(run_cli("chat", "-m", "echo:m", "hello", env=env))
    finally:
        lock.rollback()
        lock.close()
    assert "busy" in line and "is damaged" not in line
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 0  # no empty row left behind
    con.close()
    # a lock released within the wait is simply waited for
    lock = _busy_lock(db)
    threading.Timer(0.5, lambda: (lock.rollback(), lock.close())).start()
    waited = run_cli("chat", "-m", "echo:m", "hello", env=env)
    assert waited.returncode == 0 and waited.stdout.strip() == "fine", waited.stderr
    TALLY["faults"] += 2


def test_a_removed_wal_is_not_called_damaged(data_home: Path):
    env = cli_env(data_home)
    assert run_cli("history", "list", env=env).returncode == 0
    db = data_home / "dataelan.sqlite3"
    other = sqlite3.connect(db)  # another Dataelan process with unsaved pages in its log
    other.execute("INSERT INTO projects (id, name, sort_order, created_at, updated_at) "
                  "VALUES ('p1', 'Kept', 0, '2026-01-01', '2026-01-01')")  # fmt: skip
    other.commit()
    db.with_name(db.name + "-wal").unlink()
    line = error_line(run_cli("history", "list", env=env))
    assert "is damaged" not in line and "Nothing was damaged" in line and "was removed" in line, line
    other.close()  # the other process ends: its log is written back into the database
    assert run_cli("history", "list", env=env).returncode == 0
    con = sqlite3.connect(db)
    assert con.execute("SELECT name FROM projects").fetchall() == [("Kept",)]
    con.close()
    TALLY["faults"] += 1


def _root_can_mount() -> str | None:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        return "needs root and mount(8) to make a read-only folder and a full disk"
    return None


@pytest.fixture
def mounted(tmp_path: Path):
    """Mount points made for one test and always unmounted."""
    made: list[Path] = []

    def mount(*args: str, target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        made.append(target)
        return target

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.mark.skipif(_root_can_mount() is not None, reason=str(_root_can_mount()))
def test_a_read_only_data_folder_is_said_as_such(data_home: Path, tmp_path: Path, mounted):
    assert run_cli("history", "list", env=cli_env(data_home)).returncode == 0
    ro = mounted("--bind", str(data_home), target=tmp_path / "ro")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
    for command in (["history", "list"], ["chat", "-m", "openai:gpt-4o-mini", "hi"]):
        line = error_line(run_cli(*command, env=cli_env(ro, OPENAI_API_KEY="sk-test-readonly")))
        assert "read-only" in line and "Nothing was damaged" in line and "is damaged" not in line, line
        TALLY["faults"] += 1


@pytest.mark.skipif(_root_can_mount() is not None, reason=str(_root_can_mount()))
def test_a_full_disk_is_said_as_such_and_loses_nothing(tmp_path: Path, server, mounted):
    server.default = openai_stream(["fine"])
    disk = mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=tmp_path / "small-disk")
    home = disk / "home"
    env = cli_env(home)
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    first = run_cli("chat", "-m", "echo:m", "kept before the disk filled", env=env)
    assert first.returncode == 0, first.stderr
    filler = _fill(disk)
    line = error_line(run_cli("chat", "-m", "echo:m", "a second question", env=env))
    assert "is full" in line and "Nothing was damaged" in line and "is damaged" not in line, line
    # reading needs room for SQLite's log files too: the same clear line, not "damaged"
    assert "is full" in error_line(run_cli("history", "list", env=env))
    filler.unlink()
    again = run_cli("chat", "-m", "echo:m", "after some space was freed", env=env)
    assert again.returncode == 0, again.stderr
    con = sqlite3.connect(home / "dataelan.sqlite3")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    users = [r[0] for r in con.execute("SELECT content FROM messages WHERE role='user' ORDER BY created_at")]
    con.close()
    assert users == ["kept before the disk filled", "after some space was freed"]
    TALLY["faults"] += 1


def test_the_data_folder_is_private(data_home: Path, server, tiny_gguf):
    server.default = openai_stream(["fine"])
    env = cli_env(data_home)
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    assert run_cli("chat", "-m", "echo:m", "hello", env=env).returncode == 0
    assert run_cli("backup", env=env).returncode == 0
    assert run_cli("models", "add", str(tiny_gguf), "--copy", env=env).returncode == 0
    other = sqlite3.connect(data_home / "dataelan.sqlite3")  # a window left open: its -wal and -shm stay
    other.execute("SELECT count(*) FROM messages").fetchone()
    try:
        assert run_cli("chat", "-m", "echo:m", "again", env=env).returncode == 0
        _assert_private(data_home, "dataelan.sqlite3-wal", "dataelan.sqlite3-shm")
    finally:
        other.close()
    # a folder left open by an older version is tightened on the next start
    for path in [data_home, *data_home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert run_cli("history", "list", env=env).returncode == 0
    _assert_private(data_home)
    TALLY["faults"] += 1  # a data folder left open to everyone, tightened


def _assert_private(home: Path, *also: str) -> None:
    found = {p.relative_to(home).as_posix(): p.stat().st_mode & 0o777 for p in [home, *home.rglob("*")]}
    assert {".", "dataelan.sqlite3", "logs/dataelan.log", "backups", "models", *also} <= set(found)
    assert any(name.startswith("backups/") for name in found) and any(
        name.startswith("models/") for name in found
    )
    loose = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o700 if (home / name).is_dir() else 0o600)
    }
    assert loose == {}


def _fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the file to delete to free them."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


@pytest.mark.skipif(_root_can_mount() is not None, reason=str(_root_can_mount()))
def test_a_reply_the_full_disk_cannot_hold_is_kept_elsewhere_and_restored(tmp_path: Path, server, mounted):
    """The disk fills up while a long reply streams: neither the database nor the data folder can hold
    it. It is kept in the system's temporary folder (another disk), said in one line, and the next start,
    with room again, puts the whole reply in its conversation."""
    # 1.2 MB, on a disk filled up once the reply begins (saving it takes about twice that, with its search
    # index, and as much again when SQLite moves it from its log into the database: 12 MB, once freed)
    pieces = [f"{i:04d} " + "x" * 20_000 for i in range(60)]
    server.default = openai_stream(pieces, delay=0.02)
    disk = mounted("-t", "tmpfs", "-o", "size=12m", "tmpfs", target=tmp_path / "small-disk")
    home, elsewhere = disk / "home", tmp_path / "system-temp"
    elsewhere.mkdir()
    env = cli_env(home, TMPDIR=str(elsewhere))
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    process = popen_cli("chat", "-m", "echo:m", "a long answer, please", env=env)
    try:
        assert process.stdout.read(5) == "0000 "  # the question and the reply's row are saved by now
        filler = _fill(disk)
        out = process.stdout.read()  # (not communicate(): it would skip what this reader buffered)
        err = process.stderr.read()
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    shown = "0000 " + out.rstrip("\n")
    assert (len(shown), shown[-20:]) == (len("".join(pieces)), "".join(pieces)[-20:]), err  # read all of it
    kept = list(elsewhere.glob("dataelan-unsaved-*/*.json"))
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == oct(0o600)
    assert oct(kept[0].parent.stat().st_mode & 0o777) == oct(0o700)
    line = error_line(subprocess.CompletedProcess([], process.returncode, out, err))
    assert "database or disk is full" in line and str(kept[0]) in line and "restored" in line, line
    assert not list(home.glob("unsaved-replies/*.tmp"))  # no half-written copy takes the room left
    filler.unlink()
    listed = run_cli("history", "list", env=env)  # the next start, with room again
    assert listed.returncode == 0 and "interrupted" not in listed.stderr, listed.stderr
    con = sqlite3.connect(home / "dataelan.sqlite3")
    try:
        assert con.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchall() == [
            ("complete", "".join(pieces))
        ]
    finally:
        con.close()
    assert not kept[0].exists()
    TALLY["faults"] += 1


@pytest.mark.skipif(_root_can_mount() is not None, reason=str(_root_can_mount()))
def test_an_export_the_full_disk_cannot_hold_leaves_the_earlier_file_whole(
    services, data_home: Path, tmp_path: Path, mounted
):
    """`export -o` over an earlier export on a disk with too little room: one line saying why, and the
    earlier file is still there, whole (it was truncated, then half-written), with nothing beside it."""
    conversation = services.store.create_conversation(title="Long")
    services.store.add_user_message(conversation.id, "word " * 400_000, [], "openai:gpt-4o-mini")  # ~2 MB
    disk = mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=tmp_path / "small")
    earlier = disk / "conversation.json"
    earlier.write_text('{"an": "earlier export"}', encoding="utf-8")
    result = run_cli(
        "export", conversation.id, "--format", "json", "-o", str(earlier), env=cli_env(data_home)
    )
    assert "could not write" in error_line(result)
    assert earlier.read_text(encoding="utf-8") == '{"an": "earlier export"}'
    assert [p.name for p in disk.iterdir()] == ["conversation.json"]
    TALLY["faults"] += 1
