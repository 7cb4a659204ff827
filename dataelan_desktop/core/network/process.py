"""The network process: runs the cloud providers' SDKs, away from the window's process.

Parsing a fast stream costs an SDK about 0.1 ms per token (SSE decoding, pydantic models).
In the window's process that time is taken from painting, and a thread would not help: it
would hold the GIL the window needs. Here it runs on the machine's other core, and the
window's process receives each stream's events in batches (see ``helper_process.EventBatcher``).
The SDKs' import time (about 1.5 s for both) is spent here too, not in the window.

Requests (the pipe, cancelling and ending are ``helper_process``'s):

``("stream", id, spec, request)``  events, then ``None``; cancelled, the connection is closed first
``("models", id, spec)``           the provider's models
``("warm_up", id, spec)``          builds the provider (imports its SDK), then ``None``
``("forget", id, spec)``           closes the provider (its key or address changed), then ``None``

Requests run side by side, each a task on the process's loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..helper_process import Request, serve
from .spec import ProviderSpec, build_provider

WHERE = "the network process"


class NetworkProcess:
    """The providers built in this process and the replies streaming through them."""

    def __init__(self) -> None:
        self.providers: dict[ProviderSpec, Any] = {}
        #: streams in flight per provider object: a forgotten provider is closed when its last ends
        self.streaming: dict[int, int] = {}
        self.retired: dict[int, Any] = {}  # forgotten while streaming, by id()
        self.building: dict[ProviderSpec, asyncio.Future] = {}  # providers being built, shared by askers

    async def handle(self, request: Request) -> Any:
        spec = request.payload[0]
        if request.op == "stream":
            await self.stream(spec, request.payload[1], request)
        elif request.op == "models":
            return await (await self.provider(spec)).list_models()
        elif request.op == "warm_up":
            await self.provider(spec)
        elif request.op == "forget":
            await self.forget(spec)
        else:
            raise ValueError(f"unknown request {request.op!r}")
        return None

    async def provider(self, spec: ProviderSpec):
        """The provider for ``spec``, built on first use on a worker thread: importing an SDK takes
        0.5-1 s, and on this loop it would pause every other reply streaming meanwhile."""
        if spec not in self.providers:
            building = self.building.get(spec)
            if building is None:
                building = asyncio.get_running_loop().run_in_executor(None, _build_warm, spec)
                self.building[spec] = building
            try:
                built = await building
            finally:
                self.building.pop(spec, None)
            self.providers.setdefault(spec, built)
        return self.providers[spec]

    async def stream(self, spec: ProviderSpec, chat_request, request: Request) -> None:
        provider = await self.provider(spec)
        self.streaming[id(provider)] = self.streaming.get(id(provider), 0) + 1
        try:
            async for event in provider.stream(chat_request):
                request.emit(event)
        finally:  # (cancelled: the provider's stream closed its connection on the way out)
            await self._release(provider)

    async def _release(self, provider) -> None:
        left = self.streaming.pop(id(provider), 1) - 1
        if left:
            self.streaming[id(provider)] = left
        elif id(provider) in self.retired:
            await self.retired.pop(id(provider)).aclose()

    async def forget(self, spec: ProviderSpec) -> None:
        """A later request builds it again."""
        provider = self.providers.pop(spec, None)
        if provider is not None and self.streaming.get(id(provider)):
            self.retired[id(provider)] = provider  # a reply still streams through it
        elif provider is not None:
            await provider.aclose()

    async def close(self) -> None:
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
    process = NetworkProcess()
    serve(conn, process.handle, where=WHERE, cleanup=process.close)
