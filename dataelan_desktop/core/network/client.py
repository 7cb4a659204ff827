"""The app's side of the network process: start it on first use, route its answers, notice its death.

One network process serves the whole app (every cloud provider, every conversation and
tester column). :class:`HostedProvider` is what the registry hands out: to its callers the
same provider interface; its SDK work happens in :mod:`.network_process`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import multiprocessing as mp
import threading
from collections.abc import AsyncIterator
from typing import Any

from ..providers import errors
from ..providers.base import Provider
from ..providers.errors import ProviderError, UnavailableError
from ..providers.types import ChatRequest, ModelInfo, StreamEvent
from .spec import ProviderSpec

log = logging.getLogger(__name__)

CALL_TIMEOUT = 120.0  # building a provider imports its SDK: seconds on a slow disk, never minutes
RELEASE_TIMEOUT = 5.0  # a stopped stream's wait for the network process to let go of the connection
CLOSE_TIMEOUT = 5.0  # the app's wait, when closing, for the network process to close a provider


def error_from_fields(fields: tuple) -> ProviderError:
    """The typed failure the network process described (see ``network_process.error_fields``)."""
    name, message, provider, status, retry_after, trace = fields
    if trace:
        log.error("%s\n%s", message, trace)
    kind = getattr(errors, name, None) if name else None
    if not (isinstance(kind, type) and issubclass(kind, ProviderError)):
        return ProviderError(message, provider=provider, status=status)
    if issubclass(kind, errors.RateLimitedError | errors.UnavailableError):
        return kind(message, provider=provider, status=status, retry_after=retry_after)
    return kind(message, provider=provider, status=status)


class _Inbox:
    """Where the reader thread leaves one request's messages, for the loop that asked."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[tuple] = asyncio.Queue()

    def deliver(self, message: tuple) -> bool:  # reader thread
        """False when the asking loop is closed: nobody will read this request's messages."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, message)
            return True
        except RuntimeError:  # closed, perhaps between any check and this call
            return False


class NetworkHost:
    """The network process and the requests in flight to it."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")  # never fork a process that has Qt and threads
        self._process: mp.process.BaseProcess | None = None
        self._conn: Any = None
        self._lock = threading.Lock()  # starting, and writing to the pipe
        #: requests in flight to the current process (a new process gets a new table, so that the
        #: old one's reader fails only what was sent to the process that died)
        self._routes: dict[int, _Inbox | concurrent.futures.Future] = {}
        self._ids = itertools.count(1)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _ensure_started(self) -> None:
        """Start the process if it is not running (called with the lock held)."""
        if self.alive:
            return
        from .process import network_main

        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=network_main, args=(child,), name="dataelan-network", daemon=True)
        process.start()
        child.close()
        self._process, self._conn, self._routes = process, parent, {}
        threading.Thread(
            target=self._read, args=(process, parent, self._routes), name="network-host-reader", daemon=True
        ).start()

    def _send(self, message: tuple, route: _Inbox | concurrent.futures.Future) -> int:
        with self._lock:
            for attempt in (1, 2):
                self._ensure_started()
                request_id = next(self._ids)
                self._routes[request_id] = route
                try:
                    self._conn.send((message[0], request_id, *message[1:]))
                    return request_id
                except (OSError, BrokenPipeError) as error:
                    # it died and its reader has not noticed yet: once more, with a new one
                    self._routes.pop(request_id, None)
                    self._process = None
                    if attempt == 2:
                        raise UnavailableError(
                            f"The network process could not be reached: {error}"
                        ) from error
        raise AssertionError("unreachable")

    def cancel(self, request_id: int) -> None:
        with self._lock:
            if self.alive:
                try:
                    self._conn.send(("cancel", request_id))
                except (OSError, BrokenPipeError):
                    pass

    def forget(self, request_id: int) -> None:
        self._routes.pop(request_id, None)

    def _route(self, routes: dict, message: tuple) -> None:
        route = routes.get(message[1])
        if isinstance(route, _Inbox):
            if not route.deliver(message):  # its loop is gone: stop streaming to nobody
                routes.pop(message[1], None)
                self.cancel(message[1])
        elif route is not None:
            routes.pop(message[1], None)
            if route.done():  # the caller stopped waiting (a timeout)
                return
            if message[0] == "result":
                route.set_result(message[2])
            else:
                route.set_exception(error_from_fields(message[2]))

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
                log.exception("a message from the network process could not be handed on")
        conn.close()  # this end of a dead process's pipe is of no more use
        process.join(timeout=5)
        died = (
            "died",
            0,
            f"The network process stopped unexpectedly (exit code {process.exitcode}). "
            "The next message starts it again.",
        )
        with self._lock:
            if self._process is process:
                self._process = None
            lost = list(routes.values())
            routes.clear()
        for route in lost:
            if isinstance(route, _Inbox):
                route.deliver(died)
            elif not route.done():
                route.set_exception(UnavailableError(died[2]))

    # -- requests -------------------------------------------------------------------

    def call(self, op: str, spec: ProviderSpec, timeout: float = CALL_TIMEOUT) -> Any:
        """A request with one answer, waited for on this (non-loop) thread."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        request_id = self._send((op, spec), future)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            self.forget(request_id)
            raise UnavailableError(f"The network process did not answer within {timeout:.0f} s.") from None

    async def acall(self, op: str, spec: ProviderSpec, timeout: float = CALL_TIMEOUT) -> Any:
        """A request with one answer, awaited from the caller's loop."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        request_id = self._send((op, spec), future)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            self.forget(request_id)
            raise UnavailableError(f"The network process did not answer within {timeout:.0f} s.") from None

    def discard(self, spec: ProviderSpec) -> None:
        """Close ``spec``'s provider in the network process, without waiting for it."""
        if not self.alive:
            return
        try:
            self._send(("forget", spec), concurrent.futures.Future())
        except UnavailableError:
            pass

    async def stream(self, spec: ProviderSpec, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        inbox = _Inbox(asyncio.get_running_loop())
        request_id = self._send(("stream", spec, request), inbox)
        finished = False
        try:
            while True:
                message = await inbox.queue.get()
                kind = message[0]
                if kind == "events":
                    for event in message[2]:
                        yield event
                elif kind == "end":
                    finished = True
                    return
                elif kind == "error":
                    finished = True
                    raise error_from_fields(message[2])
                else:  # died
                    finished = True
                    raise UnavailableError(message[2], provider=spec.name)
        finally:
            if not finished:
                # stopped by the caller: cancel it there, and wait until the connection is let go
                # of, so that the next request finds the pool free (bounded: a stuck process
                # must not hold up the stop)
                self.cancel(request_id)
                if _loop_running():  # closed by the garbage collector, it has no loop to wait on
                    try:
                        await asyncio.wait_for(_until_final(inbox), RELEASE_TIMEOUT)
                    except (TimeoutError, asyncio.CancelledError):
                        pass
            self.forget(request_id)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            process, conn = self._process, self._conn
            self._process = None
        if process is None:
            return
        try:
            conn.send(("quit",))
        except (OSError, BrokenPipeError):
            pass
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
        # the pipe is closed by its reader thread, which sees the end of the process


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


async def _until_final(inbox: _Inbox) -> None:
    while (await inbox.queue.get())[0] == "events":
        pass


class HostedProvider(Provider):
    """A cloud provider whose SDK runs in the network process."""

    def __init__(self, spec: ProviderSpec, host: NetworkHost):
        self.spec = spec
        self.host = host
        self.name = spec.name
        self.base_url = spec.base_url

    def warm_up(self) -> None:
        """Start the network process and build the provider there (imports its SDK); blocks."""
        self.host.call("warm_up", self.spec)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self.host.stream(self.spec, request)

    async def list_models(self) -> list[ModelInfo]:
        return await self.host.acall("models", self.spec)

    async def aclose(self) -> None:
        if self.host.alive:  # (a dead process has nothing to close; never start one for this)
            try:  # bounded: closing the app must not wait on a stuck network process
                await self.host.acall("forget", self.spec, CLOSE_TIMEOUT)
            except ProviderError:
                log.warning("the network process did not close %s's connections", self.name)


_shared: NetworkHost | None = None
_shared_lock = threading.Lock()


def shared_host() -> NetworkHost:
    """The app's one network process (started on first request, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = NetworkHost()
            atexit.register(_shared.stop)
        return _shared
