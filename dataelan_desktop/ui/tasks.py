"""Running core coroutines from Qt slots on the qasync loop, with errors reported in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)
T = TypeVar("T")

_running: set[asyncio.Task] = set()  # keep references so tasks are not garbage-collected


def person_message(error: BaseException) -> str:
    from ..core.providers.errors import ProviderError

    if isinstance(error, ProviderError | ValueError | LookupError | OSError):
        return str(error)
    return f"Something went wrong: {type(error).__name__}: {error}"


def in_worker(fn: Callable[[], T]) -> Awaitable[T]:
    """``fn()`` on a worker thread (keyring, file work), leaving the database thread free for the
    chat's writes. get_event_loop, not to_thread: qasync may step a task outside run_forever."""
    return asyncio.get_event_loop().run_in_executor(None, fn)


def run(
    coro: Awaitable[T],
    *,
    parent: QWidget | None = None,
    on_done: Callable[[T], Any] | None = None,
    on_error: Callable[[BaseException], Any] | None = None,
) -> asyncio.Task:
    """Schedule ``coro``; ``on_done(result)`` or an error message box (or ``on_error``) afterwards."""
    task = asyncio.ensure_future(coro)
    _running.add(task)

    def report(error: BaseException) -> None:
        if not isinstance(error, ValueError | LookupError):
            log.error("background task failed", exc_info=error)
        if on_error is not None:
            on_error(error)
        elif parent is not None:
            QMessageBox.warning(parent, "Dataelan", person_message(error))

    def finished(t: asyncio.Task) -> None:
        _running.discard(t)
        if t.cancelled():
            return
        error = t.exception()
        if error is not None:
            report(error)
            return
        if on_done is not None:
            try:
                on_done(t.result())
            except Exception as failure:  # a view's bug: logged and said, not lost in the loop
                log.exception("showing the result of a background task failed")
                if parent is not None:
                    QMessageBox.warning(parent, "Dataelan", person_message(failure))

    task.add_done_callback(finished)
    return task
