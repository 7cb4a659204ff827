"""Checking a database on demand, and copying out what can still be read from a damaged one.

Recovery builds a new database beside the damaged one, puts it in the damaged file's place
and keeps the damaged file next to it (``dataelan.sqlite3.damaged-<time>``), so nothing is
ever thrown away. It uses the sqlite3 command-line tool's ``.recover`` when it is installed
(Debian's ``sqlite3`` package), which also finds rows in pages the schema no longer points
to; otherwise each table is copied row by row with Python's sqlite3, skipping what fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import paths

log = logging.getLogger(__name__)

#: rows the salvage skips over after an unreadable one before trying further (rowids are dense here)
SALVAGE_SKIP_LIMIT = 100_000
RECOVER_TIMEOUT_S = 3600
#: tables the app rebuilds itself rather than copying (the search index is derived from messages)
DERIVED = ("messages_fts",)


@dataclass(frozen=True)
class CheckResult:
    problems: list[str]  # empty when SQLite's integrity check found nothing
    conversations: int | None = None
    messages: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RecoveryResult:
    method: str  # "sqlite3 .recover" or "row by row"
    damaged_copy: Path
    rows: dict[str, int] = field(default_factory=dict)  # table → rows in the recovered database

    @property
    def messages(self) -> int:
        return self.rows.get("messages", 0)

    @property
    def conversations(self) -> int:
        return self.rows.get("conversations", 0)


def check_database(db_path: Path, max_problems: int = 20) -> CheckResult:
    """``PRAGMA integrity_check`` (reads every page and index: seconds for a large history)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        found = [r[0] for r in con.execute(f"PRAGMA integrity_check({int(max_problems)})")]
        problems = (
            []
            if found == ["ok"]
            else [
                line.strip()
                for r in found
                for line in r.splitlines()
                if line.strip() and not line.startswith("***")
            ]
        )
        counts: list[int | None] = [None, None]
        if not problems:
            for i, table in enumerate(("conversations", "messages")):
                try:
                    counts[i] = con.execute(
                        f"SELECT count(*) FROM {table} WHERE deleted_at IS NULL"
                    ).fetchone()[0]
                except sqlite3.Error:
                    pass
        return CheckResult(problems, counts[0], counts[1])
    finally:
        con.close()


def sqlite3_tool() -> str | None:
    """The sqlite3 command-line tool, if it is installed and its ``.recover`` works (3.29 and later,
    built with the sqlite_dbpage table; some distributions' builds lack it and fail on any file)."""
    import tempfile

    tool = shutil.which("sqlite3")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.sqlite3"
        con = sqlite3.connect(probe)
        con.execute("CREATE TABLE t(x)")
        con.execute("INSERT INTO t VALUES ('found')")
        con.commit()
        con.close()
        try:
            shown = subprocess.run([tool, str(probe), ".recover"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
    return tool if shown.returncode == 0 and "'found'" in shown.stdout else None


def recover_database(db_path: Path, *, use_tool: bool = True) -> RecoveryResult:
    """Copy out what can be read into a new database that takes ``db_path``'s place.

    Call with no connection open. Raises ``ValueError`` if nothing at all could be read; the
    damaged file is then left where it was.
    """
    if not db_path.exists():
        raise ValueError(f"There is no database at {db_path}.")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = db_path.with_name(f"{db_path.stem}.recovering-{stamp}{db_path.suffix}")
    for leftover in (target, *(target.with_name(target.name + s) for s in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    tool = sqlite3_tool() if use_tool else None
    method = "sqlite3 .recover" if tool else "row by row"
    try:
        if tool:
            _recover_with_tool(tool, db_path, target)
        else:
            _salvage_rows(db_path, target)
        rows = _finish(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if tool and (
        not _has_revision(target) or (rows.get("messages", 0) == 0 and rows.get("conversations", 0) == 0)
    ):
        # .recover could not place rows under the app's own tables (the schema page itself was lost)
        target.unlink(missing_ok=True)
        return recover_database(db_path, use_tool=False)
    damaged_copy = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, damaged_copy.with_name(damaged_copy.name + suffix))
            paths.tighten(damaged_copy.with_name(damaged_copy.name + suffix))
    os.replace(target, db_path)
    paths.tighten(db_path)
    log.info("recovered %s (%s): %s; damaged file kept as %s", db_path, method, rows, damaged_copy)
    return RecoveryResult(method, damaged_copy, rows)


def _recover_with_tool(tool: str, damaged: Path, target: Path) -> None:
    os.close(paths.create_private(target))
    # the tool writes SQL that rebuilds the schema and every row it finds; a second one replays it
    with subprocess.Popen(
        [tool, "-readonly", str(damaged), ".recover"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as reader:
        replay = subprocess.run(
            [tool, "-bail", str(target)],
            stdin=reader.stdout,
            capture_output=True,
            timeout=RECOVER_TIMEOUT_S,
        )
        reader.stdout.close()
        reader.wait(timeout=RECOVER_TIMEOUT_S)
    if replay.returncode != 0:
        raise ValueError(
            "The sqlite3 tool could not rebuild the database: "
            + replay.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0]
            if replay.stderr.strip()
            else "The sqlite3 tool could not rebuild the database."
        )


def _salvage_rows(damaged: Path, target: Path) -> None:
    """A fresh database with the app's schema, then every row of every table that can still be read."""
    from .engine import open_database

    try:
        src = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
        tables = [
            r[0]
            for r in src.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            f"Nothing can be read from {damaged.name}: even its list of tables is damaged ({exc})."
        ) from exc
    fresh = open_database(
        target, recover=False, daily_backup=False
    )  # the current schema, made by the migrations
    fresh.close()
    dst = sqlite3.connect(target)
    try:
        dst.execute("PRAGMA foreign_keys=OFF")  # rows whose parent was lost are kept
        wanted = {r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in tables:
            if table not in wanted or table.startswith(DERIVED) or table == "alembic_version":
                continue
            _copy_table(src, dst, table)
        dst.commit()
    finally:
        dst.close()
        src.close()


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> int:
    target_columns = {r[1] for r in dst.execute(f'PRAGMA table_info("{table}")')}
    try:
        columns = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")') if r[1] in target_columns]
    except sqlite3.DatabaseError:
        return 0
    if not columns:
        return 0
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    read_one = f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 1'
    read_at = f'SELECT rowid, {names} FROM "{table}" WHERE rowid = ?'
    copied, last, misses = 0, -(2**63), 0
    while misses <= SALVAGE_SKIP_LIMIT:
        try:
            row = src.execute(read_one, (last,)).fetchone()
        except sqlite3.DatabaseError:
            row = None
            last += 1  # step over the unreadable row by rowid
            misses += 1
            try:
                row = src.execute(read_at, (last,)).fetchone()
            except sqlite3.DatabaseError:
                continue
            if row is None:
                continue
        if row is None:
            break
        misses = 0
        last = row[0]
        try:
            dst.execute(insert, row[1:])
            copied += 1
        except sqlite3.Error:
            pass  # a row the current schema refuses (a damaged value): skipped
    return copied


def _mend_message_tree(con: sqlite3.Connection) -> None:
    """Reattach messages whose parent was on a lost page to the newest earlier message that survived, so
    that a conversation still reads from its start; a shown leaf that was lost becomes the newest message."""
    orphans = con.execute(
        "SELECT m.rowid, m.conversation_id, m.created_at FROM messages m "
        "WHERE m.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = m.parent_id)"
    ).fetchall()
    for rowid, conversation_id, created_at in orphans:
        earlier = con.execute(
            "SELECT id FROM messages WHERE conversation_id = ? AND (created_at < ? OR (created_at = ? AND rowid < ?)) "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (conversation_id, created_at, created_at, rowid),
        ).fetchone()
        con.execute(
            "UPDATE messages SET parent_id = ? WHERE rowid = ?", (earlier[0] if earlier else None, rowid)
        )
    if "current_leaf_id" in {
        r[1] for r in con.execute("PRAGMA table_info(conversations)")
    }:  # before 0004_view_state
        con.execute(
            "UPDATE conversations SET current_leaf_id = (SELECT id FROM messages m WHERE m.conversation_id = "
            "conversations.id ORDER BY created_at DESC, rowid DESC LIMIT 1) WHERE current_leaf_id IS NOT NULL AND NOT "
            "EXISTS (SELECT 1 FROM messages m WHERE m.id = conversations.current_leaf_id)"
        )
    if con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='conversation_views'").fetchone():
        # a shown branch whose leaf was lost: no view row means the newest branch is shown
        con.execute(
            "DELETE FROM conversation_views WHERE current_leaf_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM messages m WHERE m.id = conversation_views.current_leaf_id)"
        )


def _has_revision(target: Path) -> bool:
    con = sqlite3.connect(target)
    try:
        return con.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _finish(target: Path) -> dict[str, int]:
    """Make the recovered file whole: search index rebuilt, orphan bin dropped, rows counted, checked."""
    con = sqlite3.connect(target)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "lost_and_found" in tables:
            con.execute(
                "DROP TABLE lost_and_found"
            )  # rows .recover could not place; the damaged copy keeps them
        if {"messages", "conversations"} <= tables:
            _mend_message_tree(con)
        if "messages_fts" in tables:
            con.execute("INSERT INTO messages_fts(messages_fts) VALUES('rebuild')")
        con.commit()
        rows = {}
        for table in (
            "projects",
            "conversations",
            "messages",
            "provider_configs",
            "local_models",
            "prompt_templates",
        ):
            if table in tables:
                rows[table] = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        result = con.execute("PRAGMA integrity_check(1)").fetchone()[0]
        if result != "ok":
            raise ValueError(f"The recovered copy is not sound either ({result}).")
        con.execute("PRAGMA journal_mode=WAL")
        return rows
    finally:
        con.close()
