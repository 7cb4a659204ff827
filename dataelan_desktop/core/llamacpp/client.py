"""The parent's side of a model host: start it, stream from it, stop it, notice when it dies."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..providers.errors import ContextTooLongError, ModelFileError, UnavailableError

log = logging.getLogger(__name__)

LOAD_TIMEOUT = 600.0  # a large model on a slow disk takes minutes; a hung load must still end


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ModelHost:
    """One loaded model in its own process. One generation at a time."""

    def __init__(self, model_path: Path, settings: dict[str, Any], label: str | None = None):
        self.model_path = Path(model_path)
        self.settings = dict(settings)
        self.label = label or self.model_path.name
        self._ctx = mp.get_context("spawn")  # never fork a process that has Qt and threads
        self._process: mp.process.BaseProcess | None = None
        self._conn = None
        self._cancel = self._ctx.Event()
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self.key: tuple = ()  # the provider's cache key for this host
        self.n_ctx: int | None = None
        self.template_source: str | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    async def start(self, progress: Callable[[str], None] | None = None) -> None:
        from .process import host_main

        self._loop = asyncio.get_event_loop()
        parent, child = self._ctx.Pipe(duplex=True)
        self._conn = parent
        self._queue = asyncio.Queue()
        if progress:
            progress(f"Starting the model host for {self.label}…")
        self._process = self._ctx.Process(
            target=host_main,
            args=(child, self._cancel, str(self.model_path), self.settings),
            name=f"dataelan-model-host:{self.label}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._reader = threading.Thread(
            target=self._read, name=f"model-host-reader:{self.label}", daemon=True
        )
        self._reader.start()
        if progress:
            progress(f"Loading {self.label}…")
        try:
            first = await asyncio.wait_for(self._queue.get(), LOAD_TIMEOUT)
        except TimeoutError:
            await self.stop()
            raise UnavailableError(
                f"Loading {self.label} took longer than {LOAD_TIMEOUT:.0f} s and was abandoned."
            ) from None
        if first.get("ev") == "load_failed":
            await self.stop()
            raise ModelFileError(f"llama.cpp could not load {self.label}: {first['error']}")
        if first.get("ev") == "died":
            raise UnavailableError(
                f"The model host for {self.label} stopped while loading ({first['reason']}); "
                "the model may need more memory than is free."
            )
        self.n_ctx = first.get("n_ctx")
        self.template_source = first.get("template_source")
        if progress:
            progress(f"{self.label} is loaded.")

    def _read(self) -> None:
        """Pipe → asyncio queue, on a thread so the event loop never blocks on the pipe."""
        assert self._loop is not None and self._queue is not None
        loop, queue = self._loop, self._queue
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                if self._process is not None:
                    self._process.join(timeout=5)
                reason = _exit_reason(self._process.exitcode if self._process else None)
                if not loop.is_closed():
                    loop.call_soon_threadsafe(queue.put_nowait, {"ev": "died", "reason": reason})
                return
            if loop.is_closed():
                return
            loop.call_soon_threadsafe(queue.put_nowait, message)

    def cancel(self) -> None:
        self._cancel.set()

    async def generate(
        self, messages: list[dict[str, str]], params: dict[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the host's events for one generation; cancelling or closing stops it within a token."""
        async with self._lock:
            if not self.alive or self._queue is None:
                raise UnavailableError(f"The model host for {self.label} is not running.")
            while not self._queue.empty():  # leftovers of a generation cancelled earlier
                self._queue.get_nowait()
            self._cancel.clear()
            self._conn.send({"op": "generate", "messages": messages, "params": params})
            finished = False
            try:
                while True:
                    message = await self._queue.get()
                    kind = message.get("ev")
                    if kind == "died":
                        raise UnavailableError(
                            f"The model host for {self.label} stopped unexpectedly ({message['reason']}). "
                            "The next message will load the model again."
                        )
                    if kind == "error":
                        finished = True
                        if message.get("kind") == "context":
                            raise ContextTooLongError(message["error"])
                        raise UnavailableError(f"llama.cpp failed while generating: {message['error']}")
                    if kind == "done":
                        finished = True
                    yield message
                    if finished:
                        return
            finally:
                if not finished and self.alive:
                    # stopped by the caller: tell the host, then wait for its "done" so the
                    # next generation starts clean (bounded: a hung host is killed)
                    self._cancel.set()
                    try:
                        await asyncio.wait_for(self._drain_until_done(), 10)
                    except (TimeoutError, asyncio.CancelledError):
                        self.kill()

    async def _drain_until_done(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            if message.get("ev") in ("done", "error", "died"):
                return

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()

    async def stop(self) -> None:
        """End the process: all of its memory goes back to the system."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            try:
                self._conn.send({"op": "quit"})
            except (OSError, BrokenPipeError):
                pass
            await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
        if self._conn is not None:
            self._conn.close()
        self._process = None
