"""The app's side of a helper process: spawning it, its one reader thread, its death, cancelling, stopping."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import multiprocessing as mp
import multiprocessing.connection
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..providers.errors import UnavailableError
from .wire import NoAnswerError, ProcessDied, error_from_fields, exit_reason

log = logging.getLogger(__name__)

#: never fork: the app has Qt and threads. Spawn also works frozen (PyInstaller), as cli/main.py
#: calls multiprocessing.freeze_support() before anything else
SPAWN = mp.get_context("spawn")
STOP_TIMEOUT = 5.0  # a process's time to end after "quit" (or after a kill) before it is given up on


class _Answer:
    """Where one request's single answer goes: a future a thread or a loop waits on."""

    def __init__(self) -> None:
        self.future: concurrent.futures.Future = concurrent.futures.Future()

    def deliver(self, message: tuple) -> bool:  # reader thread
        kind, _, body = message
        if kind == "events":  # (a call has none to give)
            return True
        try:
            if kind == "result":
                self.future.set_result(body)
            elif kind == "error":
                self.future.set_exception(error_from_fields(body))
            else:  # died
                self.future.set_exception(body)
        except concurrent.futures.InvalidStateError:  # the caller stopped waiting (a timeout)
            pass
        return True


class _Inbox:
    """Where one stream's messages go, for the loop that asked."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[tuple] = asyncio.Queue()

    def deliver(self, message: tuple) -> bool:  # reader thread
        """False when the asking loop is closed: nobody will read this stream's messages."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, message)
            return True
        except RuntimeError:  # closed, perhaps between any check and this call
            return False

    async def until_final(self) -> None:
        while (await self.queue.get())[0] == "events":
            pass


class ProcessClient:
    """The app's side of one helper process: requests to it, and its life and death.

    ``what`` names the process for people ("The network process"); ``after_death`` tells them what
    happens next. With ``restart`` a request starts the process when it is not running (again,
    after a death); without, a dead process fails every request until the owner starts it again.
    """

    call_timeout = 120.0  # seconds a call waits for its answer unless it says otherwise
    release_timeout = 5.0  # seconds a cancelled stream waits for its final answer before a kill

    def __init__(self, target: Callable[..., None], *, name: str, what: str, after_death: str, restart: bool):
        self._target = target
        self.name = name
        self.what = what
        self.after_death = after_death
        self.restart = restart
        self._process: Any = None  # multiprocessing's process object
        self._conn: Any = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()  # starting, and writing to the pipe
        #: requests in flight to the current process (a new process gets a new table, so that a dead
        #: one's reader fails only what was sent to it)
        self._routes: dict[int, _Answer | _Inbox] = {}
        self._ids = itertools.count(1)
        self.last_used = time.monotonic()  # when a request was last sent
        #: processes this client ended itself, with what their requests in flight are told
        self._ended: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    @property
    def alive(self) -> bool:
        # both: its exit status can be read a moment before its sentinel (a pipe) says it ended, and
        # the status is never read when something else in this process reaped it first
        process = self._process
        return (
            process is not None and process.exitcode is None and not mp.connection.wait([process.sentinel], 0)
        )

    @property
    def busy(self) -> bool:
        """Whether any request is in flight."""
        return bool(self._routes)

    def start(self) -> None:
        """Start the process if it is not running."""
        with self._lock:
            self._start()

    def _start(self) -> None:  # with the lock held
        if self.alive:
            return
        parent, child = SPAWN.Pipe(duplex=True)
        process = SPAWN.Process(target=self._target, args=(child,), name=self.name, daemon=True)
        process.start()
        child.close()
        routes: dict[int, _Answer | _Inbox] = {}
        self._process, self._conn, self._routes = process, parent, routes
        self._reader = threading.Thread(
            target=self._read, args=(process, parent, routes), name=f"{self.name}-reader", daemon=True
        )
        self._reader.start()

    def _send(self, op: str, payload: tuple, route: _Answer | _Inbox) -> int:
        with self._lock:
            for attempt in (1, 2):
                if self.restart:
                    self._start()
                elif not self.alive:
                    raise UnavailableError(f"{self.what} is not running. {self.after_death}")
                request_id = next(self._ids)
                routes = self._routes
                routes[request_id] = route
                self.last_used = time.monotonic()
                try:
                    self._conn.send((op, request_id, *payload))
                    return request_id
                except OSError as error:
                    routes.pop(request_id, None)
                    if not self.restart or attempt == 2:
                        raise UnavailableError(f"{self.what} could not be reached: {error}") from error
                    self._process = None  # it died and its reader has not noticed: once more, anew
                except BaseException:  # not picklable: nothing was sent
                    routes.pop(request_id, None)
                    raise
        raise AssertionError("unreachable")

    def cancel(self, request_id: int) -> None:
        """Ask the process to stop a request; its final answer follows."""
        with self._lock:
            if self.alive:
                try:
                    self._conn.send(("cancel", request_id))
                except OSError:
                    pass

    def _forget(self, request_id: int) -> None:
        self._routes.pop(request_id, None)

    # -- reading --------------------------------------------------------------------------------

    def _read(self, process, conn, routes: dict) -> None:
        """Pipe → the asking loop or future, on a thread so no loop ever blocks on the pipe."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._route(routes, message)
            except Exception:  # this thread is the only reader: it must outlive any one message
                log.exception("a message from %s could not be handed on", self.what.lower())
        conn.close()  # this end of a dead process's pipe is of no more use
        reason = _reap(process)
        with self._lock:
            if self._process is process:
                self._process = None
            lost = list(routes.values())
            routes.clear()
        text = self._ended.pop(process, None) or (
            f"{self.what} stopped unexpectedly ({reason}). {self.after_death}"
        )
        for route in lost:
            route.deliver(("died", 0, ProcessDied(text, reason=reason)))

    def _route(self, routes: dict, message: tuple) -> None:
        kind, request_id = message[0], message[1]
        route = routes.get(request_id)
        if route is None:  # a request given up on (a timeout)
            return
        if kind != "events":
            routes.pop(request_id, None)
        if not route.deliver(message) and kind == "events":  # its loop is gone: stop streaming to nobody
            routes.pop(request_id, None)
            self.cancel(request_id)

    # -- requests -------------------------------------------------------------------------------

    def call(self, op: str, *payload: Any, timeout: float | None = None) -> Any:
        """A request with one answer, waited for on this (non-loop) thread."""
        answer = _Answer()
        request_id = self._send(op, payload, answer)
        timeout = self.call_timeout if timeout is None else timeout
        try:
            return answer.future.result(timeout)
        except TimeoutError:
            self._forget(request_id)
            raise NoAnswerError(f"{self.what} did not answer within {timeout:g} s.") from None

    async def acall(self, op: str, *payload: Any, timeout: float | None = None) -> Any:
        """A request with one answer, awaited from the caller's loop."""
        answer = _Answer()
        request_id = self._send(op, payload, answer)
        timeout = self.call_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.wrap_future(answer.future), timeout)
        except TimeoutError:
            raise NoAnswerError(f"{self.what} did not answer within {timeout:g} s.") from None
        finally:
            self._forget(request_id)  # (cancelled by the caller: the answer has nowhere to go)

    def post(self, op: str, *payload: Any) -> None:
        """A request whose answer nobody waits for; nothing is started for it."""
        if self.alive:
            try:
                self._send(op, payload, _Answer())
            except UnavailableError:
                pass

    async def open_stream(self, op: str, *payload: Any, provider: str | None = None) -> AsyncIterator[Any]:
        """The events of one streaming request. Closing it early cancels the request in the process
        and waits, bounded, for its final answer, so that the next request finds what it held free."""
        inbox = _Inbox(asyncio.get_running_loop())
        request_id = self._send(op, payload, inbox)
        finished = False
        try:
            while True:
                kind, _, body = await inbox.queue.get()
                if kind == "events":
                    for event in body:
                        yield event
                    continue
                finished = True
                if kind == "result":
                    return
                if kind == "error":
                    raise error_from_fields(body)
                body.provider = provider  # died: say whose request it was
                raise body
        finally:
            if not finished:
                await self._release(request_id, inbox)
            self._forget(request_id)

    async def _release(self, request_id: int, inbox: _Inbox) -> None:
        self.cancel(request_id)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # closed by the garbage collector: there is no loop to wait on
            return
        try:
            await asyncio.wait_for(inbox.until_final(), self.release_timeout)
        except TimeoutError:  # stuck: every other request to it would wait as long
            log.warning("%s did not stop a request within %g s; ending it", self.what, self.release_timeout)
            self.kill(f"{self.what} stopped answering and was ended. {self.after_death}")

    # -- ending ---------------------------------------------------------------------------------

    def kill(self, why: str | None = None) -> None:
        """End the process at once; ``why`` is what its requests in flight are told."""
        with self._lock:
            process = self._process
            if process is None or not self.alive:
                return
            self._process = None  # gone from now: the next request does not go to it
            self._ended[process] = why or f"{self.what} was ended. {self.after_death}"
            process.kill()

    def stop(self, timeout: float = STOP_TIMEOUT, *, idle_for: float | None = None) -> bool:
        """Ask the process to quit; kill it if it has not within ``timeout``. Blocks (bounded).
        With ``idle_for``: only if nothing is in flight and nothing was asked for that many seconds
        (checked under the lock a request takes, so that none is cut off). Whether it was stopped."""
        with self._lock:
            if idle_for is not None and (self._routes or time.monotonic() - self.last_used < idle_for):
                return False
            process, conn, reader = self._process, self._conn, self._reader
            self._process = None
            if process is None:
                return False
            self._ended[process] = f"{self.what} was stopped."
            try:
                conn.send(("quit", 0))
            except OSError:
                pass
        if not mp.connection.wait([process.sentinel], timeout):
            process.kill()
            mp.connection.wait([process.sentinel], timeout)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)  # it reaps the process and closes the pipe
        return True

    async def astop(self, timeout: float = STOP_TIMEOUT) -> None:
        """:meth:`stop`, off the loop."""
        # get_event_loop, not to_thread: qasync may step this task outside run_forever
        await asyncio.get_event_loop().run_in_executor(None, self.stop, timeout)


def _reap(process) -> str:
    """Wait (bounded) for a process whose pipe closed to end, and say how it ended."""
    if not _exited(process, STOP_TIMEOUT):
        process.kill()  # it closed its pipe yet runs on: of no more use
        _exited(process, STOP_TIMEOUT)
    return exit_reason(process.exitcode)


def _exited(process, timeout: float) -> bool:
    if not mp.connection.wait([process.sentinel], timeout):
        return False
    # its pipes close a moment before its exit status can be read (polled, not a blocking wait: if
    # something else in this process reaped it, the status is gone and the reason says so)
    deadline = time.monotonic() + 1.0
    while process.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.002)
    return True
