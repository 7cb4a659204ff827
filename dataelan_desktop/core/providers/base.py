"""The provider interface."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from .types import ChatRequest, ModelInfo, StreamEvent, Usage


def warm_up_http_stack() -> None:
    """httpx/httpcore import parts of anyio lazily on the first request; do it ahead of time."""
    try:
        import anyio._backends._asyncio  # noqa: F401
        import anyio._core._synchronization  # noqa: F401
    except ImportError:  # a transport without anyio needs nothing here
        pass


class OutputClock:
    """A stream's output timed where it is received from the server (the network process), one tick
    per delta: the generating side's view of speed, before any pipe bunches the deltas together."""

    __slots__ = ("first", "last", "deltas")

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.deltas = 0

    def tick(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.deltas += 1

    def usage(self, input_tokens: int | None, output_tokens: int | None) -> Usage:
        """The stream's usage: the server's counts when it sent them, else the deltas counted, marked
        estimated (servers such as llama.cpp's, Ollama and LM Studio send one token per delta)."""
        estimated = output_tokens is None and self.deltas > 0
        tokens = self.deltas if estimated else output_tokens
        return Usage(
            input_tokens=input_tokens,
            output_tokens=tokens,
            generating_seconds=self._span_of_all_but_the_first(tokens),
            estimated=estimated,
        )

    def _span_of_all_but_the_first(self, tokens: int | None) -> float | None:
        """The time ``tokens - 1`` tokens took, which the rate shown divides them by.

        With one token a delta, that is the span from the first delta to the last. A server that
        sends several tokens a delta (Anthropic's, a proxy's buffering) made only the tokens after
        the first delta in that span, about ``tokens * (deltas - 1) / deltas`` of them: the span is
        scaled up to match, so a short reply in a few fat deltas is not shown faster than it was made.
        """
        if self.first is None or self.last is None:
            return None
        span = self.last - self.first
        if not tokens or tokens <= self.deltas or self.deltas < 2:
            return span
        after_first = tokens * (self.deltas - 1) / self.deltas
        return span * (tokens - 1) / after_first


class Provider(ABC):
    """Turns a :class:`ChatRequest` into an async stream of typed events.

    Contract for implementations:

    * ``stream`` yields ``Started`` first, then any number of ``TextDelta`` /
      ``ReasoningDelta`` / ``ToolCall`` / ``Usage`` events, then exactly one
      ``Finished``. The last ``Usage`` carries ``generating_seconds`` timed on the generating
      side (see :class:`OutputClock`) and, where the server sent no counts, an estimate.
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

    async def count_tokens(self, request: ChatRequest, *, load: bool = False) -> int | None:
        """The prompt's length in the model's own tokens, where this provider has the tokenizer at hand
        (``load``: it may load the model to count); None when it cannot count (callers estimate)."""
        return None

    async def context_length(self, model: str) -> int | None:
        """How many tokens the model's context holds, where the provider knows; None otherwise."""
        return None

    def warm_up(self) -> None:
        """Do slow one-time work (lazy SDK imports) now; the registry calls it off the loop's thread."""
        warm_up_http_stack()

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections, processes and memory."""
