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
import time
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
#: minutes with no request before the network process is stopped: both cloud SDKs hold about 90 MB
#: there, given back while the app sits idle; the next request (or typing to a cloud model) starts it
IDLE_STOP_SECONDS = 15 * 60.0


class NetworkClient(ProcessClient):
    """The network process and the requests in flight to it."""

    call_timeout = CALL_TIMEOUT
    release_timeout = RELEASE_TIMEOUT

    def __init__(self, idle_stop_seconds: float | None = IDLE_STOP_SECONDS) -> None:
        super().__init__(
            network_main,
            name="dataelan-network",
            what="The network process",
            after_death="The next message starts it again.",
            restart=True,
        )
        self.idle_stop_seconds = idle_stop_seconds
        self._idle_timer: threading.Timer | None = None

    def _send(self, op: str, payload: tuple, route) -> int:
        request_id = super()._send(op, payload, route)
        self._watch_idle(self.idle_stop_seconds)
        return request_id

    def _watch_idle(self, after: float | None) -> None:
        """Check in ``after`` seconds whether the process has sat idle long enough (one timer)."""
        if after is None or self._idle_timer is not None:
            return
        timer = threading.Timer(max(after, 0.05), self._stop_if_idle)
        timer.daemon = True
        self._idle_timer = timer
        timer.start()

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        limit = self.idle_stop_seconds
        if limit is None or not self.alive:
            return
        if self.stop(idle_for=limit):
            log.info("stopped the network process after %.0f s without a request", limit)
        else:  # used meanwhile (or still streaming): look again when it could have been idle that long
            self._watch_idle(limit - (time.monotonic() - self.last_used) if not self.busy else limit)

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
