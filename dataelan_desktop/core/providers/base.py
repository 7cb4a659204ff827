"""The provider interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from .types import ChatRequest, ModelInfo, StreamEvent


def warm_up_http_stack() -> None:
    """httpx/httpcore import parts of anyio lazily on the first request; do it ahead of time."""
    try:
        import anyio._backends._asyncio  # noqa: F401
        import anyio._core._synchronization  # noqa: F401
    except ImportError:  # a transport without anyio needs nothing here
        pass


class Provider(ABC):
    """Turns a :class:`ChatRequest` into an async stream of typed events.

    Contract for implementations:

    * ``stream`` yields ``Started`` first, then any number of ``TextDelta`` /
      ``ReasoningDelta`` / ``ToolCall`` / ``Usage`` events, then exactly one
      ``Finished``.
    * Failures are raised as :class:`~.errors.ProviderError` subclasses, never as SDK
      exceptions.
    * Cancellation: the caller cancels its task or closes the iterator
      (``aclose``); the implementation must stop generating within one token and
      release its connection or model slot.
    * No retries here: :mod:`.retry` wraps any provider.
    """

    #: the provider's name as the user writes it before the colon (``openai``, ``local``, ``ollama``)
    name: str

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Start a generation and yield its events."""

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models this provider offers (may call the network)."""

    def warm_up(self) -> None:
        """Do slow one-time work (lazy SDK imports) now; the registry calls it off the loop's thread."""
        warm_up_http_stack()

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, processes and memory."""
