"""Opening the database: WAL mode, migrations (backed up first), crash recovery."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .. import paths
from .migrations import SCHEMA_HEAD
from .tables import Message, MessageStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_BACKUPS = 5


class CorruptDatabaseError(RuntimeError):
    """The database file is damaged; nothing was changed and backups are listed."""

    def __init__(self, path: Path, detail: str, backups: list[Path]):
        hint = f" The newest backup is {backups[0]}." if backups else " No backup exists yet."
        super().__init__(f"The database {path} is damaged ({detail}). It was left untouched.{hint}")
        self.path = path
        self.backups = backups


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(owner: str | None) -> bool:
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


def list_backups(db_path: Path) -> list[Path]:
    folder = db_path.parent / "backups"
    if not folder.is_dir():
        return []
    return sorted(folder.glob(db_path.stem + "-*.sqlite3"), reverse=True)


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


def backup_database(db_path: Path, label: str) -> Path:
    """A consistent copy through SQLite's backup API (safe while WAL has pending pages)."""
    folder = db_path.parent / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{db_path.stem}-{stamp}-{label}.sqlite3"
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    for old in list_backups(db_path)[KEEP_BACKUPS:]:
        old.unlink(missing_ok=True)
    return target


def _migrate(engine: Engine, db_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _check_readable(db_path: Path) -> None:
    """Refuse a file SQLite cannot read, without scanning it (a full check of a large history takes seconds)."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return
    try:
        con = sqlite3.connect(db_path)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "messages" in tables:
                con.execute("SELECT id FROM messages ORDER BY rowid DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabaseError(db_path, str(exc), list_backups(db_path)) from exc


class Database:
    """The engine, a session factory, and a single writer thread for async callers.

    Async code (the GUI's loop, the chat service) never touches SQLite on the loop's
    thread: :meth:`run` hands the work to one dedicated thread, which also keeps
    writes in order.
    """

    def __init__(self, engine: Engine, path: Path | None):
        self.engine = engine
        self.path = path
        self.Session = sessionmaker(engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataelan-db")

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
        with self.session() as session:
            return fn(session)

    async def run(self, fn: Callable[[Session], T]) -> T:
        # get_event_loop, not get_running_loop: qasync may step a task outside run_forever
        return await asyncio.get_event_loop().run_in_executor(self._executor, self.call, fn)

    async def in_thread(self, fn: Callable[..., T], /, *args, **kwargs) -> T:
        """Run any blocking callable (e.g. a ``ChatStore`` method) on the database thread."""
        return await asyncio.get_event_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def recover_interrupted(self) -> int:
        """Mark replies whose writing process is gone as interrupted. Returns how many."""

        def fix(session: Session) -> int:
            rows = session.execute(
                select(Message.id, Message.stream_owner).where(Message.status == MessageStatus.STREAMING)
            ).all()
            dead = [mid for mid, owner in rows if not _process_alive(owner) or owner == this_process()]
            if dead:
                session.execute(
                    update(Message)
                    .where(Message.id.in_(dead))
                    .values(status=MessageStatus.INTERRUPTED, stream_owner=None)
                )
            return len(dead)

        count = self.call(fix)
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
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def open_database(path: Path | str | None = None, *, recover: bool = True) -> Database:
    """Open (creating or migrating as needed) the app's database.

    A database whose schema is behind is backed up before it is migrated. A damaged
    file raises :class:`CorruptDatabaseError` and is never replaced.
    """
    db_path = Path(path) if path is not None else paths.database_path()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _check_readable(db_path)
    revision = _current_revision(db_path)
    engine = make_engine(f"sqlite:///{db_path}")
    if revision != SCHEMA_HEAD:
        if revision is not None:
            backup = backup_database(db_path, f"before-{SCHEMA_HEAD}")
            log.info("backed up the database to %s before migrating", backup)
        _migrate(engine, db_path)
    db = Database(engine, db_path)
    if recover:
        db.recover_interrupted()
    return db
