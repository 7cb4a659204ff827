"""The app's side of the network process: its requests, and the provider the registry hands out.

One network process serves the whole app (every cloud provider, every conversation and tester
column). It is started on the first request and again on the first request after it died.
:class:`NetworkProvider` is what the registry hands out: to its callers the same provider
interface; its SDK work happens in :mod:`.process`.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import AsyncIterator

from ..helper_process import ProcessClient
from ..providers.base import Provider
from ..providers.errors import ProviderError
from ..providers.types import ChatRequest, ModelInfo, StreamEvent
from .process import network_main
from .spec import ProviderSpec

log = logging.getLogger(__name__)

CALL_TIMEOUT = 120.0  # building a provider imports its SDK: seconds on a slow disk, never minutes
RELEASE_TIMEOUT = 5.0  # a stopped stream's wait for the network process to let go of the connection
CLOSE_TIMEOUT = 5.0  # the app's wait, when closing, for the network process to close a provider


class NetworkClient(ProcessClient):
    """The network process and the requests in flight to it."""

    call_timeout = CALL_TIMEOUT
    release_timeout = RELEASE_TIMEOUT

    def __init__(self) -> None:
        super().__init__(
            network_main,
            name="dataelan-network",
            what="The network process",
            after_death="The next message starts it again.",
            restart=True,
        )

    def stream(self, spec: ProviderSpec, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self.open_stream("stream", spec, request, provider=spec.name)

    def discard(self, spec: ProviderSpec) -> None:
        """Close ``spec``'s provider in the network process, without waiting for it."""
        self.post("forget", spec)


class NetworkProvider(Provider):
    """A cloud provider whose SDK runs in the network process."""

    def __init__(self, spec: ProviderSpec, client: NetworkClient):
        self.spec = spec
        self.client = client
        self.name = spec.name
        self.base_url = spec.base_url

    def warm_up(self) -> None:
        """Start the network process and build the provider there (imports its SDK); blocks."""
        self.client.call("warm_up", self.spec)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self.client.stream(self.spec, request)

    async def list_models(self) -> list[ModelInfo]:
        return await self.client.acall("models", self.spec)

    async def aclose(self) -> None:
        if self.client.alive:  # (a dead process has nothing to close; never start one for this)
            try:  # bounded: closing the app must not wait on a stuck network process
                await self.client.acall("forget", self.spec, timeout=CLOSE_TIMEOUT)
            except ProviderError:
                log.warning("the network process did not close %s's connections", self.name)


_shared: NetworkClient | None = None
_shared_lock = threading.Lock()


def shared_client() -> NetworkClient:
    """The app's one network process (started on first request, stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = NetworkClient()
            atexit.register(_shared.stop)
        return _shared
