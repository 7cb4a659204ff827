"""A helper process and its client: the plumbing written once for every process the app starts.

The app runs work that may be slow, crash, or hold the GIL in processes of its own: the network
process (the cloud SDKs) and one model process per loaded GGUF model. Each is a pair: the
*process* (the child) and its *client* (the app's side). This module is everything the pairs
share; each pair's own modules only say what its requests do.

Both ends speak tuples over a ``multiprocessing`` pipe:

client → process   ``(op, id, *payload)`` · ``("cancel", id)`` · ``("quit", 0)``
process → client   ``("events", id, [event, …])`` any number of times, then one final answer:
                   ``("result", id, value)`` or ``("error", id, fields)``

Every request gets exactly one final answer; a cancelled one answers ``result`` (``None``) once
it has let go of what it held (a connection, llama.cpp's context). The process ends when its
client says ``quit`` or its end of the pipe closes, so a killed app leaves nothing behind.

The client (:class:`ProcessClient`) spawns the process, reads its pipe on one thread, routes each
message to the request that asked (so several can be in flight), notices its death and says why,
cancels (tell the process, wait a bounded time for its final answer, else kill it) and stops it.
The process runs :func:`serve`; its streams send events through an :class:`EventBatcher`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import threading
import time
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .providers import errors
from .providers.errors import ProviderError, UnavailableError
from .providers.types import ReasoningDelta, TextDelta

log = logging.getLogger(__name__)

#: never fork: the app has Qt and threads. Spawn also works frozen (PyInstaller), as cli/main.py
#: calls multiprocessing.freeze_support() before anything else
SPAWN = mp.get_context("spawn")
SEND_INTERVAL = 0.004  # seconds between a stream's messages; below a frame, above a message's cost
STOP_TIMEOUT = 5.0  # a process's time to end after "quit" (or after a kill) before it is given up on
EXIT_GRACE = 2.0  # a process's time to close what it holds once its client has gone


# -- errors across the pipe ----------------------------------------------------------------------


class ProcessDied(UnavailableError):
    """The helper process ended while a request was in flight; ``reason`` says how."""

    def __init__(self, message: str, *, reason: str, provider: str | None = None):
        super().__init__(message, provider=provider)
        self.reason = reason


class NoAnswerError(UnavailableError):
    """The helper process did not answer within the time a request allows."""


def exit_reason(code: int | None) -> str:
    """How a process ended, for a person: ``exit code 1``, ``killed by SIGKILL``."""
    if code is None:
        return "its exit status is unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


Fields = tuple[str, str, str | None, int | None, float | None, str | None]


def error_fields(error: BaseException, where: str) -> Fields:
    """A failure as plain values that cross the pipe. A provider error keeps its type and fields;
    anything else is an unexpected failure with its traceback, which the client writes to the app's
    log (through its key redactor: a helper process has no log of its own)."""
    if isinstance(error, ProviderError):
        retry_after = getattr(error, "retry_after", None)
        return (type(error).__name__, error.message, error.provider, error.status, retry_after, None)
    message = f"Unexpected error in {where}: {type(error).__name__}: {error}"
    return ("", message, None, None, None, "".join(traceback.format_exception(error)))


def error_from_fields(fields: Fields) -> ProviderError:
    """The typed failure :func:`error_fields` described, rebuilt on the client's side."""
    name, message, provider, status, retry_after, trace = fields
    if trace:
        log.error("%s\n%s", message, trace)
    kind = getattr(errors, name, None) if name else None
    if not (isinstance(kind, type) and issubclass(kind, ProviderError)):
        return ProviderError(message, provider=provider, status=status)
    if issubclass(kind, errors.RateLimitedError | errors.UnavailableError):
        return kind(message, provider=provider, status=status, retry_after=retry_after)
    return kind(message, provider=provider, status=status)


# -- the client's side ---------------------------------------------------------------------------


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

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the process to quit; kill it if it has not within ``timeout``. Blocks (bounded)."""
        with self._lock:
            process, conn, reader = self._process, self._conn, self._reader
            self._process = None
            if process is None:
                return
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


# -- the process's side --------------------------------------------------------------------------


def coalesce(events: list[Any]) -> list[Any]:
    """Join runs of text deltas (and of reasoning deltas): the same text in fewer events."""
    if len(events) < 2:
        return events
    out: list[Any] = []
    run: list[str] = []
    run_kind: type | None = None
    for event in events:
        kind = type(event)
        if kind is run_kind:
            run.append(event.text)
            continue
        if run_kind is not None:
            out.append(run_kind("".join(run)))
            run_kind = None
        if kind is TextDelta or kind is ReasoningDelta:
            run_kind, run = kind, [event.text]
        else:
            out.append(event)
    if run_kind is not None:
        out.append(run_kind("".join(run)))
    return out


class ClientPipe:
    """The process's end of the pipe to its client."""

    def __init__(self, conn):
        self.conn = conn
        self._lock = threading.Lock()  # (a handler may emit from a worker thread of its own)

    def send(self, kind: str, request_id: int, body: Any = None) -> None:
        try:
            with self._lock:
                self.conn.send((kind, request_id, body))
        except OSError:  # the client is gone; the reader thread ends this process
            pass


class EventBatcher:
    """One stream's events on their way to the client, in batches.

    Everything up to and including the first text goes at once (no wait before the first token);
    after that at most one message per ``SEND_INTERVAL``, with runs of text joined. With ``later``
    (a loop's ``call_later``) what is held is sent when the interval ends; without (a handler that
    blocks its loop, as llama.cpp's does), with the next event or :meth:`flush`.
    """

    clock: Callable[[], float] = time.monotonic

    def __init__(self, pipe: ClientPipe, request_id: int, later: Callable[..., Any] | None = None):
        self.pipe = pipe
        self.request_id = request_id
        self.later = later
        self.pending: list[Any] = []
        self.last_sent = 0.0
        self.before_text = True
        self.scheduled: Any = None

    def add(self, event: Any) -> None:
        self.pending.append(event)
        now = self.clock()
        if self.before_text:
            self.before_text = type(event) is not TextDelta and type(event) is not ReasoningDelta
            self.flush()
        elif now - self.last_sent >= SEND_INTERVAL:
            self.flush()
        elif self.later is not None and self.scheduled is None:  # what comes meanwhile joins this batch
            self.scheduled = self.later(SEND_INTERVAL - (now - self.last_sent), self.flush)

    def flush(self) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
            self.scheduled = None
        if self.pending:
            self.pipe.send("events", self.request_id, coalesce(self.pending))
            self.pending = []
            self.last_sent = self.clock()

    def drop(self) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
            self.scheduled = None
        self.pending = []


class Request:
    """One request as the process sees it: what it asks, its cancel flag, its events' way out."""

    def __init__(self, server: Server, op: str, request_id: int, payload: tuple):
        self.op = op
        self.id = request_id
        self.payload = payload
        #: set from the reader thread the moment a cancel arrives, so that work blocking the loop
        #: (llama.cpp generating) sees it between two tokens
        self.cancelled = threading.Event()
        self.events = EventBatcher(server.pipe, request_id, server.later)
        self.task: asyncio.Task | None = None
        self.begun = False  # (the reader thread answers a cancel itself until the loop begins it)
        self._lock = threading.Lock()

    def begin(self) -> bool:
        """On the loop: False when a cancel came first (and was answered)."""
        with self._lock:
            if self.cancelled.is_set():
                return False
            self.begun = True
            return True

    def cancel(self) -> bool:
        """On the reader thread: whether it had begun (else it never will)."""
        with self._lock:
            self.cancelled.set()
            return self.begun

    def emit(self, event: Any) -> None:
        self.events.add(event)


Handler = Callable[[Request], Any]  # a request's value (or an awaitable of it); raises on failure


class Server:
    """A helper process's requests, each run as a task on the process's loop.

    An ``async`` handler's requests run side by side (the network process); a plain one blocks the
    loop, so its requests run one at a time, in order, and watch ``request.cancelled`` (llama.cpp).
    """

    def __init__(self, pipe: ClientPipe, loop: asyncio.AbstractEventLoop, handle: Handler, *, where: str):
        self.pipe = pipe
        self.loop = loop
        self.handle = handle
        self.where = where  # for unexpected errors: "the network process"
        self.later = loop.call_later if inspect.iscoroutinefunction(handle) else None
        self.requests: dict[int, Request] = {}

    def arrived(self, message: tuple) -> None:
        """A message from the client (on the reader thread: flags are set at once, work on the loop)."""
        op, request_id = message[0], message[1]
        if op == "cancel":
            request = self.requests.get(request_id)
            if request is None:  # (answered already)
                pass
            elif request.cancel():
                self.loop.call_soon_threadsafe(self._cancel, request)
            else:  # still waiting, perhaps behind a request that blocks the loop: answered now
                self.requests.pop(request_id, None)
                self.pipe.send("result", request_id, None)
        elif op == "quit":
            self.closed()
        else:
            request = self.requests[request_id] = Request(self, op, request_id, message[2:])
            self.loop.call_soon_threadsafe(self._begin, request)

    def closed(self) -> None:
        """The client said quit or went away: stop everything, then the loop."""
        for request in list(self.requests.values()):
            request.cancelled.set()
        self.loop.call_soon_threadsafe(self.loop.stop)

    def _begin(self, request: Request) -> None:
        request.task = self.loop.create_task(self._run(request))

    def _cancel(self, request: Request) -> None:
        if request.task is not None:
            request.task.cancel()

    async def _run(self, request: Request) -> None:
        if not request.begin():
            return
        try:
            value = self.handle(request)
            if inspect.isawaitable(value):
                value = await value
        except asyncio.CancelledError:
            request.events.drop()  # nobody reads it any more
            self.pipe.send("result", request.id, None)
        except Exception as error:
            request.events.flush()
            self.pipe.send("error", request.id, error_fields(error, self.where))
        else:
            request.events.flush()
            self.pipe.send("result", request.id, value)
        finally:
            self.requests.pop(request.id, None)

    async def close(self, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        """Cancel what still runs, then let the owner close what it holds."""
        tasks = [r.task for r in self.requests.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if cleanup is not None:
            await cleanup()


def serve(conn, handle: Handler, *, where: str, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
    """A helper process's main: answer the client's requests until it says quit or goes away.

    ``cleanup`` closes what the process holds (connections), within ``EXIT_GRACE``. The process
    ends with ``os._exit``: there is nothing left to flush, and a stuck loop cannot keep it alive.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pipe = ClientPipe(conn)
    server = Server(pipe, loop, handle, where=where)

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the client closed the pipe or died
                break
            server.arrived(message)
            if message[0] == "quit":
                return
        server.closed()
        threading.Timer(EXIT_GRACE, os._exit, (0,)).start()  # even if the loop is stuck

    threading.Thread(target=read, name="client-pipe-reader", daemon=True).start()
    try:
        loop.run_forever()
        loop.run_until_complete(asyncio.wait_for(server.close(cleanup), EXIT_GRACE))
    except Exception:  # nothing left to report to
        pass
    finally:
        os._exit(0)
