"""The one door from a widget to core: a query op and a change op.

    ops.query(self, "sidebar", lambda: store.conversation_list(300), on_done=self.show)
    ops.change(self, lambda: store.delete_conversation(cid), on_done=lambda _: self.offer_undo(...))

A **query** reads off the GUI thread and hands its result to ``on_done`` on the GUI thread; of the
queries one owner asks under one name, only the newest delivers (a result that arrives after a newer
request, or after its owner was deleted, is dropped). A **change** runs a core mutation off the GUI
thread; the core store that owns the table publishes what changed (the bus delivers it on the GUI
thread before ``on_done`` runs); a failure is reported in one place, as a sentence for a person.
Long work may take a :class:`Progress` (reports from any thread, a cancel flag).

Where work runs is decided here, not by the caller: a plain function runs on a worker thread (changes
one after another, in the order they were asked for; long work with progress beside them), and every
database call inside it runs on the database's one thread (``Database.call`` hands it over), so
keyring and file work never hold the database up. An ``async def`` runs on the GUI's loop and awaits
its blocking steps with :func:`blocking`, the one spelling for that.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)
T = TypeVar("T")

Work = Callable[..., T] | Callable[..., Awaitable[T]]

#: per owner, per name, the ticket of the newest op asked for
_tickets: weakref.WeakKeyDictionary[QObject, dict[str, int]] = weakref.WeakKeyDictionary()
_running: set[asyncio.Task] = set()  # kept referenced until done: the loop holds tasks only weakly
_change_lane: ThreadPoolExecutor | None = None
_lane_lock = threading.Lock()


@dataclass(frozen=True)
class Failure:
    """An op that failed: what to tell the person, and the error behind it."""

    error: BaseException
    text: str

    def __str__(self) -> str:
        return self.text


def sentence(error: BaseException) -> str:
    """One sentence a person can act on. Core raises these kinds with such a sentence already."""
    from ..core.providers.errors import ProviderError

    if isinstance(error, KeyError | IndexError):  # lookups a bug made, not a person
        return f"Something went wrong: {type(error).__name__}: {error}"
    if isinstance(error, ProviderError | ValueError | LookupError | OSError):
        return str(error)
    return f"Something went wrong: {type(error).__name__}: {error}"


class Progress:
    """Given to long work: :meth:`report` from any thread reaches ``on_progress`` on the GUI thread;
    the work checks :attr:`cancelled` (or the op's task is cancelled, for async work)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, owner: QObject, on_progress: Callable[..., Any]):
        self._loop = loop
        self._gui_thread = threading.get_ident()
        self._owner = owner
        self._on_progress = on_progress
        self._cancelled = threading.Event()

    def report(self, *args: Any) -> None:
        if threading.get_ident() == self._gui_thread:
            self._deliver(*args)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, *args)

    def _deliver(self, *args: Any) -> None:
        if shiboken6.isValid(self._owner) and not self._cancelled.is_set():
            self._on_progress(*args)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()


class Op(Generic[T]):
    """A running op: await it (its ``on_done`` has run by then; the result, or None if it failed or
    went stale), or :meth:`cancel` it."""

    def __init__(self, task: asyncio.Task, progress: Progress | None):
        self.task = task
        self.progress = progress

    def __await__(self) -> Generator[Any, None, T | None]:
        return self.task.__await__()

    def done(self) -> bool:
        return self.task.done()

    def cancel(self) -> None:
        if self.progress is not None:
            self.progress.cancel()
        self.task.cancel()


def query(
    owner: QObject,
    name: str,
    work: Work[T],
    on_done: Callable[[T], Any] | None = None,
    on_error: Callable[[Failure], Any] | None = None,
) -> Op[T]:
    """Read with ``work()`` off the GUI thread; ``on_done(result)`` on it, if this is still the newest
    query ``owner`` asked under ``name``."""
    return _start(owner, name, work, on_done, on_error, None, None)


def change(
    owner: QObject,
    work: Work[T],
    on_done: Callable[[T], Any] | None = None,
    on_error: Callable[[Failure], Any] | None = None,
    *,
    name: str | None = None,
    on_progress: Callable[..., Any] | None = None,
) -> Op[T]:
    """Run the mutation ``work()`` off the GUI thread, then ``on_done(result)`` on it. With a ``name``,
    ``on_done`` is skipped once a newer op of that name was asked for (the change itself stands). With
    ``on_progress``, ``work`` gets a :class:`Progress` as its argument and runs beside other changes."""
    lane = None if on_progress is not None else _lane()
    return _start(owner, name, work, on_done, on_error, lane, on_progress)


async def blocking(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Inside an ``async def`` op: run one blocking core call on a worker thread and await its result
    (its database calls are handed to the database's thread there, as in a plain op)."""
    call = functools.partial(work, *args, **kwargs)
    return await asyncio.get_event_loop().run_in_executor(None, call)


def supersede(owner: QObject, name: str) -> None:
    """Make every op of ``owner`` under ``name`` still in flight stale."""
    _next_ticket(owner, name)


# -- the engine --------------------------------------------------------------------------


def _lane() -> ThreadPoolExecutor:
    global _change_lane
    with _lane_lock:
        if _change_lane is None:
            _change_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataelan-change")
        return _change_lane


def _next_ticket(owner: QObject, name: str) -> int:
    tickets = _tickets.setdefault(owner, {})
    tickets[name] = tickets.get(name, 0) + 1
    return tickets[name]


def _current(owner: QObject, name: str | None, ticket: int | None) -> bool:
    if not shiboken6.isValid(owner):
        return False  # the widget is gone: nobody to show the result to
    return name is None or _tickets.get(owner, {}).get(name) == ticket


def _is_async(work: Callable) -> bool:
    while isinstance(work, functools.partial):
        work = work.func
    return inspect.iscoroutinefunction(work)


async def _execute(work: Work[T], executor: Executor | None, progress: Progress | None) -> T:
    args = (progress,) if progress is not None else ()
    if _is_async(work):
        return await work(*args)
    # get_event_loop, not get_running_loop: qasync may step a task outside run_forever
    result = await asyncio.get_event_loop().run_in_executor(executor, functools.partial(work, *args))
    if inspect.isawaitable(result):  # a lambda that made a coroutine: it runs on the loop
        result = await result
    return result


def _start(
    owner: QObject,
    name: str | None,
    work: Work[T],
    on_done: Callable[[T], Any] | None,
    on_error: Callable[[Failure], Any] | None,
    executor: Executor | None,
    on_progress: Callable[..., Any] | None,
) -> Op[T]:
    loop = asyncio.get_event_loop()
    ticket = _next_ticket(owner, name) if name is not None else None
    progress = Progress(loop, owner, on_progress) if on_progress is not None else None

    async def run() -> T | None:
        try:
            result = await _execute(work, executor, progress)
        except asyncio.CancelledError:
            return None
        except Exception as error:
            if not isinstance(error, ValueError | LookupError):
                log.error("an operation failed", exc_info=error)
            if _current(owner, name, ticket):
                _report(owner, Failure(error, sentence(error)), on_error)
            return None
        if not _current(owner, name, ticket):
            return None  # a newer request (or the widget's end) made this one stale
        if on_done is not None:
            try:
                on_done(result)
            except Exception as error:  # a view's bug: logged and said, not lost in the loop
                log.exception("showing the result of an operation failed")
                _report(owner, Failure(error, sentence(error)), None)
        return result

    task = asyncio.ensure_future(run())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return Op(task, progress)


def _report(owner: QObject, failure: Failure, on_error: Callable[[Failure], Any] | None) -> None:
    """The one place a failure reaches the person: the op's own handler, else a message box."""
    if on_error is not None:
        on_error(failure)
        return
    widget = owner
    while widget is not None and not isinstance(widget, QWidget):
        widget = widget.parent()
    QMessageBox.warning(widget.window() if widget is not None else None, "Dataelan", failure.text)
