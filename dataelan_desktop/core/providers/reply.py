"""One reply: a provider's stream folded into text, reasoning, tool calls, usage, timing and status.

Chat, the tester (compare and batch) and the CLI all fold a stream with :func:`fold` into a
:class:`Reply`, and all show its measurements with :func:`format_stats`, so that a figure
means the same wherever it is read.

Speed is taken from the generating side: each provider measures, where the tokens are made
or first received (the model process, the network process), the seconds from its first
output token to its last and sends them on :class:`~.types.Usage`. Arrival times in this
process are not used for it: a pipe delivers in batches, and 20 tokens arriving together
are not 20,000 tokens per second.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any, Protocol

from ..tester.prices import estimate_cost
from .errors import ProviderError
from .types import (
    Finished,
    ReasoningDelta,
    StopReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)

YIELD_EVERY = 0.004  # seconds of folding before the event loop gets a turn


class ReplyStatus(StrEnum):
    """The same words as a saved message's status (plus ``waiting``, a tester column not begun)."""

    WAITING = "waiting"
    STREAMING = "streaming"
    COMPLETE = "complete"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


# -- text a person can read, whatever a server sent -------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


class _TextCleaner:
    """Joins a surrogate pair split across two deltas ("\\ud83d" then "\\ude00") and replaces a
    lone surrogate with U+FFFD. Such text cannot be encoded as UTF-8: printed or saved it ended
    the stream."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = ""  # a high surrogate that may be completed by the next delta

    def clean(self, piece: str) -> str:
        if not self.held and (piece.isascii() or _SURROGATE.search(piece) is None):
            return piece  # the usual case, at C speed
        piece, self.held = self.held + piece, ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self.held = piece[:-1], piece[-1]
        # UTF-16 pairs surrogates into one character and replaces any left alone
        return piece.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def rest(self) -> str:
        """What is still held at the end of the stream (a high surrogate nobody completed)."""
        held, self.held = self.held, ""
        return "\ufffd" if held else ""


class _Pieces:
    """Text that arrives in pieces and is joined only when read: a window reads a reply 30 times a
    second, where ``str +=`` per token would copy the whole reply for every token."""

    __slots__ = ("joined", "pieces", "length")

    def __init__(self, text: str = "") -> None:
        self.joined = text
        self.pieces: list[str] = []
        self.length = len(text)

    def add(self, piece: str) -> None:
        self.pieces.append(piece)
        self.length += len(piece)

    def read(self) -> str:
        if self.pieces:
            self.joined += "".join(self.pieces)
            self.pieces.clear()
        return self.joined


# -- the measurements, wherever they come from ---------------------------------------------------


class Measured(Protocol):
    """What :func:`format_stats` reads: a live :class:`Reply`, or a saved message's view."""

    status: str
    error: str | None
    stop_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    usage_estimated: bool
    ttft_ms: float | None
    duration_ms: float | None
    generation_ms: float | None


def tokens_per_second(m: Measured) -> float | None:
    """Output tokens per second of generation, from the generating side's first and last token.

    The span between them holds ``n - 1`` tokens' worth of work, so the rate never exceeds
    what the model did. A reply saved before that span was measured falls back to this
    process's own first token and end.
    """
    n = m.output_tokens
    if not n or n < 2:
        return None
    if m.generation_ms is not None:
        span = m.generation_ms / 1000
    elif m.ttft_ms is not None and m.duration_ms is not None:
        span = (m.duration_ms - m.ttft_ms) / 1000
    else:
        return None
    return (n - 1) / span if span > 0 else None


def cost_of(model: str | None, m: Measured) -> float | None:
    """Estimated dollars (see resources/prices.json); None where the price or the counts are unknown."""
    return estimate_cost(model, m.input_tokens, m.output_tokens) if model else None


def format_stats(m: Measured, *, cost: float | None = None) -> str:
    """The one stats line the chat window, the tester and the CLI show for a reply."""
    live = m.status in (ReplyStatus.STREAMING, ReplyStatus.WAITING)
    parts = [str(m.status)]
    if m.ttft_ms is not None:
        parts.append(f"first token {m.ttft_ms:.0f} ms")
    rate = tokens_per_second(m)
    if rate is not None:
        parts.append(f"{rate:.1f} tokens/s")
    if m.duration_ms is not None and not live:
        parts.append(f"{m.duration_ms / 1000:.2f} s")
    if m.input_tokens is not None or m.output_tokens is not None:
        shown_in = "?" if m.input_tokens is None else m.input_tokens
        shown_out = "?" if m.output_tokens is None else m.output_tokens
        estimated = " (estimated)" if m.usage_estimated else ""
        parts.append(f"{shown_in} → {shown_out} tokens{estimated}")
    if cost is not None:
        parts.append(f"${cost:.5f}")
    if m.stop_reason and not live:
        parts.append(f"stop: {m.stop_reason}")
    if m.error:
        parts.append(m.error)
    return " · ".join(parts)


# -- the reply ----------------------------------------------------------------------------------


class Reply:
    """A reply being generated (or saved): fold events in with :meth:`add`, end it with :meth:`finish`.

    ``text`` and ``reasoning`` may be read at any time; timings are in milliseconds, the time to
    first token and the duration measured here (what the person waited), the generation span
    measured where the tokens were made.
    """

    def __init__(
        self,
        model: str,
        text: str = "",
        status: str = ReplyStatus.WAITING,
        error: str | None = None,
        *,
        reasoning: str = "",
        ttft_ms: float | None = None,
        duration_ms: float | None = None,
        generation_ms: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        usage_estimated: bool = False,
        stop_reason: str | None = None,
    ):
        self.model = model
        self.status: str = status
        self.error = error
        self.ttft_ms = ttft_ms
        self.duration_ms = duration_ms
        self.generation_ms = generation_ms
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.usage_estimated = usage_estimated
        self.stop_reason = stop_reason
        self.tool_calls: list[ToolCall] = []
        self.started_at: float | None = None  # perf_counter() in this process
        self.finished_at: float | None = None
        self._text = _Pieces(text)
        self._reasoning = _Pieces(reasoning)
        self._clean_text = _TextCleaner()
        self._clean_reasoning = _TextCleaner()

    # -- reading ------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._text.read()

    @property
    def reasoning(self) -> str:
        return self._reasoning.read()

    @property
    def length(self) -> int:
        """Characters of text so far, without joining them."""
        return self._text.length

    @property
    def done(self) -> bool:
        return self.status not in (ReplyStatus.WAITING, ReplyStatus.STREAMING)

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(self)

    @property
    def cost(self) -> float | None:
        return cost_of(self.model, self)

    def stats(self) -> str:
        return format_stats(self, cost=self.cost)

    # -- folding --------------------------------------------------------------------------

    def begin(self) -> None:
        self.started_at = time.perf_counter()
        self.status = ReplyStatus.STREAMING

    def _first_output(self) -> None:
        if self.ttft_ms is None and self.started_at is not None:
            self.ttft_ms = (time.perf_counter() - self.started_at) * 1000

    def add(self, event: StreamEvent) -> StreamEvent | None:
        """Fold one event in; returns it as it should be shown (text made printable), or None when
        nothing is to be shown yet (half of a surrogate pair, held for the next delta)."""
        kind = type(event)
        if kind is TextDelta or kind is ReasoningDelta:
            if kind is TextDelta:
                cleaner, pieces = self._clean_text, self._text
            else:
                cleaner, pieces = self._clean_reasoning, self._reasoning
            piece = cleaner.clean(event.text)
            if not piece:
                return None
            self._first_output()
            pieces.add(piece)
            return event if piece is event.text else kind(piece)
        if kind is Usage:
            if event.input_tokens is not None:
                self.input_tokens = event.input_tokens
            if event.output_tokens is not None:
                self.output_tokens = event.output_tokens
                self.usage_estimated = event.estimated
            if event.generating_seconds is not None:
                self.generation_ms = event.generating_seconds * 1000
        elif kind is Finished:
            self.stop_reason = str(event.stop_reason)
        elif kind is ToolCall:
            self._first_output()
            self.tool_calls.append(event)
        return event

    def finish(self, status: str, error: str | None = None) -> TextDelta | None:
        """Mark the reply final; returns the last text to show, if a held half-pair became U+FFFD."""
        self.finished_at = time.perf_counter()
        if self.started_at is not None:
            self.duration_ms = (self.finished_at - self.started_at) * 1000
        self.status, self.error = status, error
        if status == ReplyStatus.STOPPED:
            self.stop_reason = str(StopReason.CANCELLED)
        held = self._clean_reasoning.rest()
        if held:
            self._reasoning.add(held)
        rest = self._clean_text.rest()
        if not rest:
            return None
        self._text.add(rest)
        return TextDelta(rest)

    # -- saving (a tester column is kept as a plain record) ----------------------------------------

    def record(self) -> dict[str, Any]:
        values = {
            "model": self.model, "text": self.text, "reasoning": self.reasoning or None,
            "status": str(self.status), "error": self.error, "ttft_ms": self.ttft_ms,
            "total_ms": self.duration_ms, "generation_ms": self.generation_ms,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "usage_estimated": self.usage_estimated, "stop_reason": self.stop_reason, "cost": self.cost,
        }  # fmt: skip
        values["tokens_per_second"] = self.tokens_per_second
        return values

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Reply:
        """A saved column again: a reopened run shows the same measurements as the live one."""
        return cls(
            data["model"],
            data.get("text") or "",
            data.get("status") or ReplyStatus.COMPLETE,
            data.get("error"),
            reasoning=data.get("reasoning") or "",
            ttft_ms=data.get("ttft_ms"),
            duration_ms=data.get("total_ms"),
            generation_ms=data.get("generation_ms"),
            input_tokens=data.get("input_tokens"),
            output_tokens=data.get("output_tokens"),
            usage_estimated=bool(data.get("usage_estimated")),
            stop_reason=data.get("stop_reason"),
        )

    def __repr__(self) -> str:
        return f"Reply({self.model!r}, {self.status!s}, {self.length} chars)"


async def fold(
    reply: Reply,
    events: AsyncIterator[StreamEvent],
    on_event: Callable[[StreamEvent], None] | None = None,
    redact: Callable[[str], str] = str,
) -> None:
    """Fold a stream into ``reply`` until it ends, fails or is cancelled; the reply always ends final.

    ``on_event`` sees each event as it should be shown. Failures become the reply's status and
    its one-sentence error (passed through ``redact``: servers sometimes echo the key back).
    """
    last_yield = time.monotonic()
    if reply.started_at is None:
        reply.begin()
    try:
        async for event in events:
            shown = reply.add(event)
            if shown is not None and on_event is not None:
                on_event(shown)
            now = time.monotonic()
            if now - last_yield >= YIELD_EVERY:
                # a fast stream arrives already buffered and never suspends on its own;
                # hand the loop back so the window keeps painting and answering
                last_yield = now
                await asyncio.sleep(0)
        status, error = ReplyStatus.COMPLETE, None
    except asyncio.CancelledError:
        status, error = ReplyStatus.STOPPED, None
    except ProviderError as failure:
        status, error = ReplyStatus.FAILED, redact(str(failure))
    except Exception as failure:  # a bug must still leave the reply in a final state
        log.exception("a reply failed unexpectedly")
        status, error = ReplyStatus.FAILED, redact(f"Unexpected error: {type(failure).__name__}: {failure}")
    last = reply.finish(status, error)
    if last is not None and on_event is not None:
        on_event(last)
