"""What can go wrong with the database file, each said in one sentence a person can act on.

SQLite reports a read-only folder, a full disk, a lock held by another process and a damaged
file through a handful of result codes; :func:`explain` turns them (raw, or wrapped by
SQLAlchemy) into one of the errors below, so that only a damaged file is ever called damaged.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class DatabaseProblem(RuntimeError):
    """The database could not be used; the message is one line and says what to do."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path


class CorruptDatabaseError(DatabaseProblem):
    """The database file is damaged; nothing was changed and backups are listed."""

    def __init__(self, path: Path, detail: str, backups: list[Path] | None = None):
        backups = backups or []
        hint = f" The newest backup is {backups[0]}." if backups else " No backup exists yet."
        super().__init__(
            f"The database {path} is damaged ({detail}). It was left untouched.{hint} "
            "`dataelan db recover` copies out what can be read; `dataelan restore` puts a backup back.",
            path,
        )
        self.backups = backups


class NewerSchemaError(DatabaseProblem):
    """The file was written by a newer version of the app; nothing was written to it."""

    def __init__(self, path: Path, revision: str):
        super().__init__(
            f"This data was written by a newer Dataelan (revision {revision}); update the app. "
            f"Nothing was changed in {path}.",
            path,
        )
        self.revision = revision


class ReadOnlyDatabaseError(DatabaseProblem):
    pass


class DiskFullError(DatabaseProblem):
    pass


class DatabaseBusyError(DatabaseProblem):
    pass


class DatabaseUnavailableError(DatabaseProblem):
    pass


def _sqlite_error(exc: BaseException) -> sqlite3.Error | None:
    """The sqlite3 error behind ``exc`` (SQLAlchemy wraps it as ``.orig``)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, sqlite3.Error):
            return exc
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return None


def _folder_is_read_only(folder: Path) -> bool:
    import os

    if not folder.is_dir():
        return False
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except (AttributeError, OSError):  # Windows has no statvfs
        return not os.access(folder, os.W_OK)


def _disk_is_full(folder: Path) -> bool:
    """SQLite reports a log file it could not create on a full disk as an I/O error: ask the disk."""
    import shutil

    try:
        return shutil.disk_usage(folder).free < 256 * 1024
    except OSError:
        return False


def explain(exc: BaseException, path: Path | None) -> DatabaseProblem | None:
    """The one-line problem behind a database exception, or None if it is not about the file."""
    if isinstance(exc, DatabaseProblem):
        return exc
    error = _sqlite_error(exc)
    if isinstance(exc, OSError) and error is None:
        return _explain_os_error(exc, path)
    if error is None:
        return None
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error.args[0] if error.args else error)
    where = path or Path("the database")
    folder = where.parent
    nothing_damaged = "Nothing was damaged."
    if (
        name.startswith("SQLITE_FULL")
        or "disk is full" in text
        or (name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) and _disk_is_full(folder))
    ):
        return DiskFullError(
            f"The disk holding {folder} is full: Dataelan could not save. {nothing_damaged} "
            "Free some space and try again.",
            path,
        )
    if (
        name.startswith("SQLITE_READONLY")
        or "readonly database" in text
        or (name.startswith("SQLITE_CANTOPEN") and _folder_is_read_only(folder))
    ):
        return ReadOnlyDatabaseError(
            f"The data folder {folder} is read-only: Dataelan cannot save there. {nothing_damaged} "
            "Make it writable, or set DATAELAN_HOME to a writable folder.",
            path,
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return DatabaseBusyError(
            f"The database is busy: another Dataelan window or command (an import?) is writing to {where.name}. "
            f"{nothing_damaged} Try again when it has finished.",
            path,
        )
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        wal = where.with_name(where.name + "-wal")
        short_read = name == "SQLITE_IOERR_SHORT_READ" or "error code=522" in text
        wal_gone = not wal.exists() or (short_read and wal.stat().st_size == 0)
        if path is not None and where.with_name(where.name + "-shm").exists() and wal_gone:
            return DatabaseUnavailableError(
                f"Could not read {where.name}: its log file {wal.name} was removed while another Dataelan "
                f"window or command had it open. {nothing_damaged} Close the other Dataelan windows and "
                "commands, then try again.",
                path,
            )
        return DatabaseUnavailableError(
            f"The disk could not read or write {where} (disk I/O error). Check the disk or the network share; "
            f"the file itself was not changed.",
            path,
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open database file" in text:
        return DatabaseUnavailableError(
            f"Could not open {where}: the folder is missing or not accessible. {nothing_damaged}", path
        )
    if (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
        or "malformed" in text
        or "not a database" in text
    ):
        from .backups import list_backups

        return CorruptDatabaseError(where, text, list_backups(where) if path else [])
    return None


def _explain_os_error(exc: OSError, path: Path | None) -> DatabaseProblem | None:
    import errno

    folder = path.parent if path else Path("the data folder")
    if exc.filename and path is not None:  # an error about another file (an export's target) is not ours
        try:
            Path(str(exc.filename)).resolve().relative_to(folder.resolve())
        except (ValueError, OSError):
            return None
    if exc.errno == errno.ENOSPC:
        return DiskFullError(
            f"The disk holding {folder} is full: Dataelan could not save. Nothing was damaged. "
            "Free some space and try again.",
            path,
        )
    if exc.errno == errno.EROFS or (exc.errno == errno.EACCES and _folder_is_read_only(folder)):
        return ReadOnlyDatabaseError(
            f"The data folder {folder} is read-only: Dataelan cannot save there. Nothing was damaged. "
            "Make it writable, or set DATAELAN_HOME to a writable folder.",
            path,
        )
    return None
