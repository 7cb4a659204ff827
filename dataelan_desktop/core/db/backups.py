"""Backups of the database: daily ones, one before each migration, on demand; and putting one back.

Backups live in ``backups/`` beside the database, named ``<stem>-<UTC time>-<label>.sqlite3``
(labels: ``daily``, ``before-<revision>``, ``manual``, ``before-restore``, ``empty``).
Each is a consistent copy made through SQLite's backup API (safe while the WAL holds
pages), private to the person running the app. Daily and before-migration backups rotate:
the newest ``keep`` of each kind stay (``dataelan backup --keep N`` sets it); copies made
by hand, before a restore or of a file found empty are never deleted by the app.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from .. import paths

log = logging.getLogger(__name__)

DEFAULT_KEEP = 7
DAY = 24 * 3600
ROTATED_LABELS = ("daily", "before-")  # labels the app rotates out; the rest are kept until removed by hand
POLICY_FILE = "policy.json"


def backups_folder(db_path: Path) -> Path:
    return db_path.parent / "backups"


def list_backups(db_path: Path, label: str | None = None) -> list[Path]:
    """Backups of ``db_path``, newest first (only those whose label starts with ``label``, if given)."""
    folder = backups_folder(db_path)
    if not folder.is_dir():
        return []
    found = sorted(folder.glob(db_path.stem + "-*.sqlite3"), key=lambda p: p.name, reverse=True)
    return [p for p in found if label is None or backup_label(db_path, p).startswith(label)]


def backup_label(db_path: Path, backup: Path) -> str:
    """``daily``, ``before-0003_templates``, ``manual``…: the part after the stamp (which has no dash)."""
    rest = backup.name.removeprefix(db_path.stem + "-").removesuffix(".sqlite3")
    return rest.split("-", 1)[1] if "-" in rest else ""


def _policy_path(db_path: Path) -> Path:
    return backups_folder(db_path) / POLICY_FILE


def keep_count(db_path: Path) -> int:
    """How many daily (and how many before-migration) backups are kept."""
    try:
        value = json.loads(_policy_path(db_path).read_text(encoding="utf-8")).get("keep", DEFAULT_KEEP)
        return max(1, int(value))
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_KEEP


def set_keep_count(db_path: Path, keep: int) -> None:
    if not 1 <= keep <= 1000:
        raise ValueError("Keep between 1 and 1000 backups.")
    folder = paths.private_dir(backups_folder(db_path))
    target = folder / POLICY_FILE
    fd = paths.create_private(target.with_suffix(".tmp"))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"keep": keep}, fh)
    os.replace(target.with_suffix(".tmp"), target)
    rotate(db_path)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def backup_database(db_path: Path, label: str) -> Path:
    """A consistent, private copy of the database through SQLite's backup API."""
    folder = paths.private_dir(backups_folder(db_path))
    target = folder / f"{db_path.stem}-{_stamp()}-{label}.sqlite3"
    os.close(paths.create_private(target, exclusive=True))  # 600 before a single page is written
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    except BaseException:
        dst.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        dst.close()
        src.close()
    rotate(db_path)
    return target


def keep_file_as_backup(db_path: Path, label: str) -> Path:
    """Move (not copy) the file itself into the backups folder, e.g. an empty or damaged database."""
    folder = paths.private_dir(backups_folder(db_path))
    target = folder / f"{db_path.stem}-{_stamp()}-{label}.sqlite3"
    shutil.move(str(db_path), target)
    paths.tighten(target)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            shutil.move(str(side), target.with_name(target.name + suffix))
    return target


def rotate(db_path: Path) -> None:
    keep = keep_count(db_path)
    for label in ROTATED_LABELS:
        for old in list_backups(db_path, label)[keep:]:
            old.unlink(missing_ok=True)


def daily_backup_due(db_path: Path) -> bool:
    newest = list_backups(db_path, "daily")
    if not newest:
        return True
    try:
        return time.time() - newest[0].stat().st_mtime >= DAY
    except OSError:
        return True


def check_backup(backup: Path) -> str | None:
    """The schema revision of a backup that SQLite reads without fault; raises ValueError otherwise."""
    if not backup.is_file():
        raise ValueError(f"{backup} is not a file.")
    try:
        con = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA integrity_check(1)").fetchone()[0]
            if result != "ok":
                raise ValueError(f"{backup.name} is damaged itself ({result}); choose another backup.")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "messages" not in tables or "alembic_version" not in tables:
                raise ValueError(f"{backup.name} is not a Dataelan database.")
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            return row[0] if row else None
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{backup.name} cannot be read as a database ({exc}).") from exc


def restore_backup(db_path: Path, backup: Path) -> Path | None:
    """Put ``backup`` in place of the database; the current file is kept as a backup first.

    Returns the backup made of the current file (None when there was none). The copy goes
    through SQLite's backup API into the live file, so a window that has it open sees the
    restored data rather than a file swapped under it; a current file SQLite cannot write
    to is moved aside whole and replaced.
    """
    from .engine import known_revisions

    revision = check_backup(backup)
    if revision is not None and revision not in known_revisions():
        raise ValueError(
            f"{backup.name} was written by a newer Dataelan (revision {revision}); update the app first."
        )
    if not db_path.exists() or db_path.stat().st_size == 0:
        if db_path.exists():
            keep_file_as_backup(db_path, "empty")
        _copy_into(backup, db_path, fresh=True)
        return None
    try:
        kept = backup_database(db_path, "before-restore")
    except sqlite3.DatabaseError:
        kept = keep_file_as_backup(db_path, "before-restore")
        _copy_into(backup, db_path, fresh=True)
        return kept
    try:
        _copy_into(backup, db_path, fresh=False)
    except sqlite3.DatabaseError:
        keep_file_as_backup(db_path, "damaged")  # its content is in ``kept`` already
        _copy_into(backup, db_path, fresh=True)
    return kept


def _copy_into(backup: Path, db_path: Path, *, fresh: bool) -> None:
    if fresh:
        for suffix in ("-wal", "-shm"):  # an old log must not be replayed over the new file
            db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
        os.close(paths.create_private(db_path))
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(db_path, timeout=10)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
