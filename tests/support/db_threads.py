"""Which threads waited on the database, and which ran SQL: two plain hooks, no stack walking.

``Database.watchers`` hears every blocking ``Database.call`` with the calling thread; SQLAlchemy's
``before_cursor_execute`` hears every statement with the thread that runs it.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


class DatabaseThreads:
    def __init__(self, db):
        self.db = db
        self.callers: list[str] = []  # the thread of every blocking call
        self.gui_waits: list[str] = []  # where the GUI thread waited (a short stack, to say who)
        self.sql_threads: list[str] = []  # the thread of every SQL statement
        self._paused = False

    def start(self) -> DatabaseThreads:
        self.db.watchers.append(self._called)
        event.listen(self.db.engine, "before_cursor_execute", self._executed)
        return self

    def stop(self) -> None:
        self.db.watchers.remove(self._called)
        event.remove(self.db.engine, "before_cursor_execute", self._executed)

    def __enter__(self) -> DatabaseThreads:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The test's own look at the database is not the window's doing."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _called(self, thread: threading.Thread) -> None:
        if self._paused:
            return
        self.callers.append(thread.name)
        if thread is threading.main_thread():
            self.gui_waits.append("".join(traceback.format_stack(limit=6)[:-2]))

    def _executed(self, *_args) -> None:
        if not self._paused:
            self.sql_threads.append(threading.current_thread().name)

    def off_the_database_thread(self) -> list[str]:
        return [name for name in self.sql_threads if not name.startswith("dataelan-db")]
