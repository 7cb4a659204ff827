"""Opening the database: WAL mode, checks, backups (daily and before migrations), crash recovery.

Opening never hides a problem: a damaged file, one written by a newer app, a read-only
folder, a full disk or a lock held too long each raise a :class:`DatabaseProblem` whose
message is one sentence; an empty (0-byte) file is kept as a backup and reported as a
notice on the :class:`Database`, not silently replaced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .. import paths
from ..sync import capture
from .backups import backup_database, daily_backup_due, keep_file_as_backup, list_backups
from .migrations import SCHEMA_HEAD
from .problems import CorruptDatabaseError, DatabaseProblem, NewerSchemaError, explain

log = logging.getLogger(__name__)
T = TypeVar("T")

#: a database this small is quick-checked on every start (about 20 ms per 8 MB); a larger one once a day
QUICK_CHECK_MAX_BYTES = 32 * 1024 * 1024
#: how long a write waits for another process's write (an import) before saying "busy"
BUSY_TIMEOUT_MS = 5000

__all__ = [
    "CorruptDatabaseError",
    "Database",
    "DatabaseProblem",
    "NewerSchemaError",
    "backup_database",
    "list_backups",
    "open_database",
]


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_alive(owner: str | None) -> bool:
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's row (synced); not ours to judge
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _current_revision(db_path: Path) -> str | None:
    """Read the schema revision with plain sqlite3 (cheap: no Alembic import on a normal start)."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return None
    con = sqlite3.connect(db_path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "alembic_version" not in tables:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    finally:
        con.close()


def known_revisions() -> set[str]:
    """Every schema revision this build can migrate from (read from the migration files, not Alembic)."""
    found = set()
    for script in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        for line in script.read_text(encoding="utf-8").splitlines():
            if line.startswith("revision = "):
                found.add(line.split("=", 1)[1].strip().strip("\"'"))
                break
    return found


def _migrate(engine: Engine, db_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _check_readable(db_path: Path, *, full: bool) -> None:
    """Refuse a file SQLite cannot read. ``full`` runs ``PRAGMA quick_check`` (reads every page once);
    otherwise only the schema and the newest message are read (instant on any size)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "messages" in tables:
            con.execute("SELECT id FROM messages ORDER BY rowid DESC LIMIT 1").fetchone()
        if full:
            result = con.execute("PRAGMA quick_check(1)").fetchone()[0]
            if "unable to get the page" in result:  # a page SQLite could not read (I/O), not a damaged one
                raise sqlite3.OperationalError(f"disk I/O error ({first_problem(result)})")
            if result != "ok":
                raise CorruptDatabaseError(db_path, first_problem(result), list_backups(db_path))
    finally:
        con.close()


def _daily_backup(db: Database) -> None:
    """Today's copy; failing to make it (a full disk) is said, but does not stop the app from opening."""
    try:
        log.info("daily backup: %s", backup_database(db.path, "daily"))
    except (OSError, sqlite3.Error) as exc:
        problem = explain(exc, db.path)
        db.notices.append(f"Today's backup could not be made: {problem or exc}")


def first_problem(report: str) -> str:
    """The first line of an integrity report that says something (not the "*** in database main ***" header)."""
    lines = [line.strip() for line in report.splitlines() if line.strip() and not line.startswith("***")]
    return lines[0] if lines else report.strip()


def _tighten_files(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        paths.tighten(db_path.with_name(db_path.name + suffix))


class Database:
    """The engine, a session factory, and the one thread every SQLite call runs on.

    :meth:`call` always does its work on the database thread: called from another thread it
    hands the work over and waits (a worker, the CLI), called there it runs at once. Async code
    (the GUI's loop, the chat service) awaits :meth:`run` or :meth:`in_thread` instead of
    waiting. One thread also keeps writes in order.
    """

    def __init__(self, engine: Engine, path: Path | None):
        self.engine = engine
        self.path = path
        self.Session = sessionmaker(engine, expire_on_commit=False)
        capture.watch(self.Session)  # changes to synced tables become sync operations, in their transaction
        #: things the person should be told about opening (one line each), e.g. an empty file replaced
        self.notices: list[str] = []
        self._thread: int | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="dataelan-db", initializer=self._mark_thread
        )
        #: called with the calling thread before every :meth:`call`: a test checks with it that the
        #: GUI thread never waits on SQLite
        self.watchers: list[Callable[[threading.Thread], None]] = []

    def _mark_thread(self) -> None:
        self._thread = threading.get_ident()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.Session() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def call(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in one transaction on the database thread; waits for its result."""
        for watch in self.watchers:
            watch(threading.current_thread())
        if threading.get_ident() == self._thread:
            return self._call_here(fn)
        try:
            future = self._executor.submit(self._call_here, fn)
        except RuntimeError:  # closed: the last calls of a process shutting down run where they are
            return self._call_here(fn)
        return future.result()

    def _call_here(self, fn: Callable[[Session], T]) -> T:
        with self.session() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        # get_event_loop, not get_running_loop: qasync may step a task outside run_forever
        return await asyncio.get_event_loop().run_in_executor(self._executor, self._call_here, fn)

    async def in_thread(self, fn: Callable[..., T], /, *args, **kwargs) -> T:
        """Run any blocking callable (e.g. a ``ChatStore`` method) on the database thread."""
        return await asyncio.get_event_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def recover_interrupted(self) -> int:
        """Mark replies whose writing process is gone as interrupted. Returns how many."""
        from ..chat.store import mark_interrupted  # the owner of the messages table writes them

        count = mark_interrupted(self)
        if count:
            log.warning("marked %d reply(ies) interrupted by an earlier crash", count)
        return count

    def integrity_check(self) -> str:
        with self.engine.connect() as con:
            return con.exec_driver_sql("PRAGMA integrity_check").scalar_one()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash; only a power cut may lose the last commits
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def open_database(
    path: Path | str | None = None, *, recover: bool = True, daily_backup: bool = True
) -> Database:
    """Open (creating or migrating as needed) the app's database.

    A database whose schema is behind is backed up before it is migrated; one that is ahead
    (written by a newer app) is refused without writing anything. A damaged file raises
    :class:`CorruptDatabaseError` and is never replaced. Once a day the file is checked
    and copied to ``backups/``. Every failure is a :class:`DatabaseProblem` in one line.
    """
    db_path = Path(path) if path is not None else paths.data_dir_location() / "dataelan.sqlite3"
    try:
        return _open(db_path, recover=recover, daily_backup=daily_backup)
    except DatabaseProblem:
        raise
    except Exception as exc:  # sqlite3, SQLAlchemy and OS errors: say what is really wrong
        problem = explain(exc, db_path)
        if problem is None:
            raise
        raise problem from exc


def _open(db_path: Path, *, recover: bool, daily_backup: bool) -> Database:
    if db_path.parent == paths.data_dir_location():
        paths.data_dir()  # created private, or tightened
        paths.tighten_tree(db_path.parent)
    else:
        paths.private_dir(db_path.parent)
    notices: list[str] = []
    if db_path.exists() and db_path.stat().st_size == 0:
        kept = keep_file_as_backup(db_path, "empty")
        older = [b for b in list_backups(db_path) if b != kept and b.stat().st_size > 0]
        hint = (
            f" The newest earlier backup is {older[0].name} (`dataelan restore` puts it back)."
            if older
            else ""
        )
        notices.append(
            f"The database file {db_path.name} was empty (0 bytes): a new, empty database was started and "
            f"the empty file was kept as {kept}.{hint}"
        )
    created = not db_path.exists()
    checked = False
    if created:
        os.close(paths.create_private(db_path, exclusive=True))
    else:
        checked = db_path.stat().st_size <= QUICK_CHECK_MAX_BYTES
        _check_readable(db_path, full=checked)
    revision = _current_revision(db_path)
    if revision is not None and revision != SCHEMA_HEAD and revision not in known_revisions():
        raise NewerSchemaError(db_path, revision)
    engine = make_engine(f"sqlite:///{db_path}")
    backed_up = False
    if revision != SCHEMA_HEAD:
        if revision is not None:
            backup = backup_database(db_path, f"before-{SCHEMA_HEAD}")
            backed_up = True  # this start's copy: no daily one on top of it
            log.info("backed up the database to %s before migrating", backup)
        try:
            _migrate(engine, db_path)
        except BaseException:
            engine.dispose()
            if created:  # a half-made new file (a full disk) would look like an empty database next time
                for suffix in ("", "-wal", "-shm"):
                    db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
            raise
    _tighten_files(db_path)
    db = Database(engine, db_path)
    db.notices = notices
    try:
        if recover:
            db.recover_interrupted()
        if daily_backup and not created and not backed_up and daily_backup_due(db_path):
            if not checked:
                _check_readable(db_path, full=True)  # never rotate good backups out for a damaged copy
            _daily_backup(db)
    except BaseException:
        db.close()
        raise
    return db
