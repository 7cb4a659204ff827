"""The MCP host: one thread with a plain asyncio loop of its own, where every MCP session runs.

The window's loop (qasync) cannot start asyncio subprocesses, and a server that hangs or floods
must not hold that loop up; so sessions live here and callers reach them through :meth:`McpHost.run`,
which hands a coroutine over and awaits its result on the caller's own loop
(``run_coroutine_threadsafe`` + ``wrap_future``): the caller's loop only ever waits on a future.
Cancelling the awaiting caller cancels the work on the host loop too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: how long closing the host waits for its sessions to stop (a stdio server gets stdin closed, then
#: SIGTERM, then SIGKILL: about 4 s at worst for one that ignores both)
CLOSE_TIMEOUT = 10.0


class McpHostClosed(RuntimeError):
    def __init__(self) -> None:
        super().__init__("The MCP host has been shut down.")


class McpHost:
    """Starts its thread on first use; :meth:`close` stops the loop and joins the thread."""

    def __init__(self, name: str = "dataelan-mcp") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The host's loop, started if it was not yet."""
        with self._lock:
            if self._closed:
                raise McpHostClosed()
            if self._loop is None:
                self._loop = _plain_loop()
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._serve, args=(self._loop, ready), name=self._name, daemon=True
                )
                self._thread.start()
                ready.wait()
            return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None and not self._closed

    def in_host(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the host loop; a thread-safe future of its result."""
        try:
            loop = self.loop
        except McpHostClosed:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the host loop, from any other loop. Cancelling this cancels it there."""
        if self.in_host():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Block this thread (never the host's, never a loop's) until ``coro`` is done on the host."""
        return self.submit(coro).result(timeout)

    def close(self, shutdown: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``shutdown`` on the host (bounded), stop the loop and join the thread. Idempotent."""
        with self._lock:
            loop, thread, self._closed = self._loop, self._thread, True
        if loop is None or thread is None:
            if shutdown is not None:
                shutdown.close()
            return
        if shutdown is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(shutdown, loop).result(CLOSE_TIMEOUT)
            except Exception:  # noqa: BLE001 - closing goes on whatever a session did
                log.warning("MCP sessions did not all stop cleanly", exc_info=True)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_TIMEOUT)


def _plain_loop() -> asyncio.AbstractEventLoop:
    """A loop of the standard library's own kind, whatever policy the app installed (qasync's would
    make a Qt loop here), that can start subprocesses."""
    if sys.platform == "win32":
        return asyncio.ProactorEventLoop()
    return asyncio.SelectorEventLoop()
