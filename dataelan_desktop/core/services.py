"""The set of services a window or a CLI command works with, built once per process.

Passed explicitly to whoever needs it (no global main-window singleton).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .changes import ChangeBus
from .chat import ChatService, ChatStore
from .chat.unsaved import restore_unsaved
from .connections.registry import ProviderRegistry
from .connections.store import ConnectionStore
from .db import Database, open_database
from .db.problems import explain
from .secrets import RedactingFilter, SecretStore, default_store
from .templates import TemplateStore

if TYPE_CHECKING:
    from .agents.mcp.hub import McpHub


@dataclass
class Services:
    db: Database
    bus: ChangeBus
    store: ChatStore
    registry: ProviderRegistry
    connections: ConnectionStore
    chat: ChatService
    secrets: SecretStore
    templates: TemplateStore
    _mcp: McpHub | None = field(default=None, init=False, repr=False)  # see mcp

    @property
    def mcp(self) -> McpHub:
        """The configured MCP servers as tool sources (built on first use: most runs need none)."""
        if self._mcp is None:
            from .agents.mcp.hub import McpHub
            from .agents.mcp.store import McpServerStore

            self._mcp = McpHub(McpServerStore(self.db, self.bus, self.secrets), self.bus)
        return self._mcp

    async def aclose(self) -> None:
        self.chat.stop_all()
        if self._mcp is not None:
            await self._mcp.aclose()
        await self.registry.aclose()

    def close(self) -> None:
        if self._mcp is not None:
            self._mcp.close()  # stops the servers still running (a no-op after aclose)
        self.db.close()


def build_services(db_path: Path | str | None = None, secrets: SecretStore | None = None) -> Services:
    secrets = secrets or default_store()
    # replies still marked streaming are marked interrupted only after the kept ones are restored: a
    # reply restored whole was not cut off by a crash (and, marked interrupted first, it would have
    # synced empty and its restored text been refused as a change to a synced reply)
    db = open_database(db_path, recover=False)
    _tidy_models_folder(db.path.parent / "models" if db.path else None)
    bus = ChangeBus()
    store = ChatStore(db, bus)
    try:
        restore_unsaved(store)  # replies whose last save failed last time (see chat/unsaved.py)
        db.recover_interrupted()
    except BaseException as exc:
        db.close()
        problem = explain(exc, db.path)  # read-only, full, busy: said as open_database says them
        if problem is None:
            raise
        raise problem from exc
    registry = ProviderRegistry(db, secrets)
    return Services(
        db=db,
        bus=bus,
        store=store,
        registry=registry,
        connections=ConnectionStore(db, bus, registry, secrets),
        chat=ChatService(store, registry),
        secrets=secrets,
        templates=TemplateStore(db, bus),  # built-ins are seeded on first use, not at start-up
    )


def _tidy_models_folder(folder: Path | None) -> None:
    """Copies cut short by a crash (hundreds of MB each) are removed at start, not kept forever."""
    if folder is not None and folder.is_dir():
        from .gguf.library import remove_stale_copies

        for partial in remove_stale_copies(folder):
            logging.getLogger(__name__).info("removed an unfinished copy: %s", partial)


_logging_ready = False


class _PrivateLogFile(RotatingFileHandler):
    """The rotating log, created 600 (it may hold conversation titles and server replies), and quiet
    when it cannot be written: a full disk is reported by the command that hit it, not by a traceback
    about the log on stderr."""

    def _open(self):
        path = Path(self.baseFilename)
        if path.exists():
            paths.tighten(path)
        else:
            os.close(paths.create_private(path))
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


class _RedactingFormatter(logging.Formatter):
    """Scrubs the whole formatted record, tracebacks included (a filter only sees the message)."""

    def __init__(self, secrets: SecretStore):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return self.secrets.redact(super().format(record))


def setup_logging(secrets: SecretStore | None = None, level: int = logging.INFO) -> Path:
    """Log to a private rotating file in the data folder; every record passes the key redactor."""
    global _logging_ready
    log_file = paths.logs_dir() / "dataelan.log"
    if _logging_ready:
        return log_file
    secrets = secrets or default_store()
    handler = _PrivateLogFile(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(_RedactingFormatter(secrets))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "openai", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _logging_ready = True
    return log_file
