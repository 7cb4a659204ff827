"""The provider interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from .types import ChatRequest, ModelInfo, StreamEvent


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

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, processes and memory."""
