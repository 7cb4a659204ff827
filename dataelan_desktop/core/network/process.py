"""The network process: runs the cloud providers' SDKs, away from the window's process.

Parsing a fast stream costs an SDK about 0.1 ms per token (SSE decoding, pydantic models).
In the window's process that time is taken from painting, and a thread would not help: it
would hold the GIL the window needs. Here it runs on the machine's other core, and the
window's process receives each stream's events in batches, at most one per ``SEND_INTERVAL``,
with runs of text joined into one delta. The SDKs' import time (about 1.5 s for both) is
spent here too, not in the window.

Protocol over a ``multiprocessing`` pipe (tuples, pickled):

app → network   ``("stream", id, spec, request)`` · ``("cancel", id)`` · ``("models", id, spec)``
                ``("warm_up", id, spec)`` · ``("forget", id, spec)`` · ``("quit",)``
network → app   ``("events", id, [event, …])`` · ``("end", id)`` · ``("error", id, fields)``
                ``("result", id, value)``

Every request gets exactly one final answer (``end``, ``error`` or ``result``); a cancelled
stream answers ``end`` once its connection is released. The process ends when the app's end
of the pipe closes, so a killed app leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import traceback
from typing import Any

from ..providers.errors import ProviderError
from ..providers.types import ReasoningDelta, TextDelta
from .spec import ProviderSpec, build_provider

SEND_INTERVAL = 0.004  # seconds; below a display frame, above the pipe's per-message cost
EXIT_GRACE = 2.0  # seconds to close connections after the app went away


def coalesce(events: list[Any]) -> list[Any]:
    """Join runs of text deltas (and of reasoning deltas): the same text in fewer events."""
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


def error_fields(error: BaseException) -> tuple[str, str, str | None, int | None, float | None, str | None]:
    """A provider failure as plain values; any other exception as an unexpected failure with its
    traceback, which the app writes to its log (through its key redactor: this process has no log)."""
    if isinstance(error, ProviderError):
        return (
            type(error).__name__,
            error.message,
            error.provider,
            error.status,
            getattr(error, "retry_after", None),
            None,
        )
    message = f"Unexpected error in the network process: {type(error).__name__}: {error}"
    return ("", message, None, None, None, "".join(traceback.format_exception(error)))


class _Outbox:
    """One stream's events on their way to the app, sent in batches."""

    def __init__(self, host: _NetworkHost, request_id: int):
        self.host = host
        self.request_id = request_id
        self.pending: list[Any] = []
        self.last_sent = 0.0
        self.scheduled: asyncio.TimerHandle | None = None

    def add(self, event: Any) -> None:
        self.pending.append(event)
        now = time.monotonic()
        if now - self.last_sent >= SEND_INTERVAL:
            self.flush()  # the first event of a quiet stream goes at once: no added latency
        elif self.scheduled is None:  # what arrives meanwhile joins this batch
            self.scheduled = self.host.loop.call_later(SEND_INTERVAL - (now - self.last_sent), self.flush)

    def flush(self) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
            self.scheduled = None
        if self.pending:
            self.host.send(("events", self.request_id, coalesce(self.pending)))
            self.pending = []
            self.last_sent = time.monotonic()

    def drop(self) -> None:
        if self.scheduled is not None:
            self.scheduled.cancel()
        self.pending = []


class _NetworkHost:
    def __init__(self, conn, loop: asyncio.AbstractEventLoop):
        self.conn = conn
        self.loop = loop
        self.providers: dict[ProviderSpec, Any] = {}
        self.tasks: dict[int, asyncio.Task] = {}
        #: streams in flight per provider object: a forgotten provider is closed when its last ends
        self.streaming: dict[int, int] = {}
        self.retired: dict[int, Any] = {}  # forgotten while streaming, by id()
        self.building: dict[ProviderSpec, asyncio.Future] = {}  # providers being built, shared by askers

    def send(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except (OSError, BrokenPipeError):  # the app is gone; the reader thread ends us
            pass

    async def provider(self, spec: ProviderSpec):
        """The provider for ``spec``, built on first use on a worker thread: importing an SDK takes
        0.5-1 s, and on this loop it would pause every other reply streaming meanwhile."""
        if spec not in self.providers:
            building = self.building.get(spec)
            if building is None:
                building = self.loop.run_in_executor(None, _build_warm, spec)
                self.building[spec] = building
            try:
                built = await building
            finally:
                self.building.pop(spec, None)
            self.providers.setdefault(spec, built)
        return self.providers[spec]

    def dispatch(self, message: tuple) -> None:
        op = message[0]
        if op == "quit":
            self.loop.stop()
        elif op == "cancel":
            task = self.tasks.get(message[1])
            if task is not None:
                task.cancel()
        elif op == "stream":
            _, request_id, spec, request = message
            self.tasks[request_id] = self.loop.create_task(self.stream(request_id, spec, request))
        elif op in ("models", "warm_up", "forget"):
            _, request_id, spec = message
            self.tasks[request_id] = self.loop.create_task(self.answer(op, request_id, spec))

    async def stream(self, request_id: int, spec: ProviderSpec, request) -> None:
        outbox = _Outbox(self, request_id)
        provider = None
        try:
            provider = await self.provider(spec)
            self.streaming[id(provider)] = self.streaming.get(id(provider), 0) + 1
            async for event in provider.stream(request):
                outbox.add(event)
            outbox.flush()
            self.send(("end", request_id))
        except asyncio.CancelledError:
            outbox.drop()  # the provider's stream closed its connection on the way out
            self.send(("end", request_id))
        except BaseException as error:
            outbox.flush()
            self.send(("error", request_id, error_fields(error)))
        finally:
            self.tasks.pop(request_id, None)
            if provider is not None:
                await self._release(provider)

    async def _release(self, provider) -> None:
        left = self.streaming.pop(id(provider), 1) - 1
        if left:
            self.streaming[id(provider)] = left
        elif id(provider) in self.retired:
            await self.retired.pop(id(provider)).aclose()

    async def answer(self, op: str, request_id: int, spec: ProviderSpec) -> None:
        try:
            if op == "models":
                result: Any = await (await self.provider(spec)).list_models()
            elif op == "warm_up":
                await self.provider(spec)
                result = None
            else:  # forget: a later request builds it again (its key or address changed)
                provider = self.providers.pop(spec, None)
                if provider is not None and self.streaming.get(id(provider)):
                    self.retired[id(provider)] = provider  # a reply still streams through it
                elif provider is not None:
                    await provider.aclose()
                result = None
            self.send(("result", request_id, result))
        except BaseException as error:
            self.send(("error", request_id, error_fields(error)))
        finally:
            self.tasks.pop(request_id, None)

    async def close(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:  # leaving anyway
                pass


def _build_warm(spec: ProviderSpec):
    provider = build_provider(spec)
    provider.warm_up()
    return provider


def network_main(conn) -> None:
    """The process's entry point (``multiprocessing`` spawn target)."""
    logging.basicConfig(level=logging.WARNING, format="network process: %(levelname)s %(message)s")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    host = _NetworkHost(conn, loop)

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the app closed the pipe or died
                break
            loop.call_soon_threadsafe(host.dispatch, message)
            if message[0] == "quit":
                return
        loop.call_soon_threadsafe(loop.stop)
        threading.Timer(EXIT_GRACE, os._exit, (0,)).start()  # even if the loop is stuck

    threading.Thread(target=read, name="network-reader", daemon=True).start()
    try:
        loop.run_forever()
        loop.run_until_complete(asyncio.wait_for(host.close(), EXIT_GRACE))
    except Exception:  # nothing left to report to
        pass
    finally:
        os._exit(0)  # no interpreter teardown: the SDKs' clients have nothing left to flush
