"""One writer per table: which module of the app wrote each table of its database, over a whole test run.

SQLAlchemy tells us every write: ``before_flush`` for rows added, changed or deleted through a
session, ``do_orm_execute`` for bulk ``insert``/``update``/``delete`` statements. The writer is the
first frame of the app outside the database layer; for work handed to the database thread
(``Database._call_here``), the module of the function handed over. Writes made by tests themselves
(fixtures setting up rows) are not the app's and are not counted.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

import dataelan_desktop
from dataelan_desktop.core.db.tables import Base

#: the app's own database (the sync server's tables live in another database, with rules of their own)
APP_TABLES = Base.metadata
PACKAGE = Path(dataelan_desktop.__file__).resolve().parent
DATABASE_LAYER = str(PACKAGE / "core" / "db") + "/"
OUTSIDE = "(outside the app)"

#: the one module that may write each table (a package: any of its modules)
OWNERS = {
    "projects": "dataelan_desktop.core.chat.store",
    "conversations": "dataelan_desktop.core.chat.store",
    "messages": "dataelan_desktop.core.chat.store",
    "conversation_views": "dataelan_desktop.core.chat.store",  # which branch this device shows
    "provider_configs": "dataelan_desktop.core.connections.store",
    "local_models": "dataelan_desktop.core.gguf.library",
    "model_profiles": "dataelan_desktop.core.gguf.library",
    "prompt_templates": "dataelan_desktop.core.templates.store",
    "tester_runs": "dataelan_desktop.core.tester.history",
    "tester_votes": "dataelan_desktop.core.tester.history",
    "mcp_servers": "dataelan_desktop.core.agents.mcp.store",
    "workflows": "dataelan_desktop.core.workflows.store",
    "workflow_runs": "dataelan_desktop.core.workflows.store",
    "workflow_steps": "dataelan_desktop.core.workflows.store",
    "agents": "dataelan_desktop.core.agents.store",
    "sync_state": "dataelan_desktop.core.sync.store",  # the capture hook and apply.py write on its connection
    "sync_outbox": "dataelan_desktop.core.sync.store",
    "sync_registers": "dataelan_desktop.core.sync.store",
}

#: (table, module) pairs allowed besides the owner while a write is being moved to its owner: none now.
#: Brief B's reply writes and brief F's importer went through ChatStore as they landed.
PENDING: set[tuple[str, str]] = set()


def _module_of_file(filename: str) -> str:
    path = Path(filename).resolve().relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(path.parts)


def _module_of_callable(fn: Callable | None) -> str | None:
    while isinstance(fn, functools.partial):
        fn = fn.func
    module = getattr(fn, "__module__", None)
    return module if isinstance(module, str) else None


def writer(frame) -> str:
    """The app's module responsible for the write happening at ``frame``."""
    package = str(PACKAGE) + "/"
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(package):
            if not filename.startswith(DATABASE_LAYER):
                return _module_of_file(filename)
            if frame.f_code.co_name == "_call_here":  # work handed to the database thread
                module = _module_of_callable(frame.f_locals.get("fn"))
                if module is not None:
                    return module if module.startswith("dataelan_desktop.") else OUTSIDE
        frame = frame.f_back
    return OUTSIDE


def owned_by(module: str, owner: str | None) -> bool:
    """Whether ``module`` is ``owner`` or, when ``owner`` is a package, one of its modules."""
    return owner is not None and (module == owner or module.startswith(owner + "."))


class WriteRecorder:
    def __init__(self) -> None:
        #: table → writing module → the first test that saw it
        self.writes: dict[str, dict[str, str]] = {}
        self.test = "(no test)"

    def install(self) -> None:
        event.listen(Session, "before_flush", self._flushing)
        event.listen(Session, "do_orm_execute", self._executing)

    def uninstall(self) -> None:
        event.remove(Session, "before_flush", self._flushing)
        event.remove(Session, "do_orm_execute", self._executing)

    def _record(self, tables: set) -> None:
        tables = {t.name for t in tables if getattr(t, "metadata", None) is APP_TABLES}
        if not tables:
            return
        module = writer(sys._getframe(2))
        if module == OUTSIDE:
            return
        for table in tables:
            self.writes.setdefault(table, {}).setdefault(module, self.test)

    def _flushing(self, session: Session, _context, _instances) -> None:
        rows = [*session.new, *session.deleted, *(o for o in session.dirty if session.is_modified(o))]
        self._record({inspect(row).mapper.local_table for row in rows})

    def _executing(self, state) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if table is not None:
                self._record({table})

    def violations(self) -> list[str]:
        """Each table written by a module other than its owner, or one of its modules when the owner is
        a package (for a table with no owner listed: by more than one module)."""
        found = []
        for table, writers in sorted(self.writes.items()):
            owner = OWNERS.get(table)
            allowed = {owner} if owner else {next(iter(writers))}
            for module, test in writers.items():
                if not owned_by(module, owner) and module not in allowed and (table, module) not in PENDING:
                    found.append(
                        f"{table} written by {module} (first in {test}); "
                        f"its one writer is {owner or next(iter(writers))}"
                    )
        return found

    def forget(self, module: str) -> None:
        """Drop what ``module`` wrote (the check's own test of itself)."""
        for writers in self.writes.values():
            writers.pop(module, None)
