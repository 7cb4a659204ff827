"""The helper process's side: serving its client's requests, and sending a stream's events in batches."""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..providers.types import ReasoningDelta, TextDelta
from .wire import error_fields

SEND_INTERVAL = 0.004  # seconds between a stream's messages; below a frame, above a message's cost
EXIT_GRACE = 2.0  # a process's time to close what it holds once its client has gone


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

    def __init__(
        self,
        pipe: ClientPipe,
        request_id: int,
        later: Callable[..., Any] | None = None,
        interval: float = SEND_INTERVAL,
    ):
        self.pipe = pipe
        self.request_id = request_id
        self.later = later
        self.interval = interval
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
        elif now - self.last_sent >= self.interval:
            self.flush()
        elif self.later is not None and self.scheduled is None:  # what comes meanwhile joins this batch
            self.scheduled = self.later(self.interval - (now - self.last_sent), self.flush)

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
        self.events = EventBatcher(server.pipe, request_id, server.later, server.send_interval)
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

    def __init__(
        self,
        pipe: ClientPipe,
        loop: asyncio.AbstractEventLoop,
        handle: Handler,
        *,
        where: str,
        send_interval: float = SEND_INTERVAL,
    ):
        self.pipe = pipe
        self.loop = loop
        self.handle = handle
        self.where = where  # for unexpected errors: "the network process"
        self.later = loop.call_later if inspect.iscoroutinefunction(handle) else None
        self.send_interval = send_interval  # at most one message per stream this often (the first at once)
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
            try:
                self.pipe.send("result", request.id, value)
            except Exception as error:  # (not picklable: the caller must not wait for it in vain)
                self.pipe.send("error", request.id, error_fields(error, self.where))
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


def serve(
    conn,
    handle: Handler,
    *,
    where: str,
    cleanup: Callable[[], Awaitable[None]] | None = None,
    send_interval: float = SEND_INTERVAL,
) -> None:
    """A helper process's main: answer the client's requests until it says quit or goes away.

    ``cleanup`` closes what the process holds (connections), within ``EXIT_GRACE``. The process
    ends with ``os._exit``: there is nothing left to flush, and a stuck loop cannot keep it alive.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pipe = ClientPipe(conn)
    server = Server(pipe, loop, handle, where=where, send_interval=send_interval)

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
