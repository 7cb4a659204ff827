"""Fitting a conversation into the model's context: how full it is, and what to do when it is longer.

A conversation longer than the model's context cannot be sent whole. Two ways to fit it, chosen per
conversation (the default in Settings), as LM Studio and Jan offer:

* ``drop``: leave the oldest turns out of the request (they stay in the conversation);
* ``summarise``: ask the model for a short summary of the oldest turns and send it in their place.

Token counts come from the provider's tokenizer where it has one (a local GGUF's model process counts
with llama.cpp); otherwise they are estimated from the text's length, and said to be estimates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from ..providers.types import ChatMessage, ChatRequest, GenerationParams


class Overflow(StrEnum):
    DROP = "drop"
    SUMMARISE = "summarise"


#: the conversation setting holding its choice, and where a summary is kept for the next turns
SETTING = "context_overflow"
SUMMARY_SETTING = "context_summary"
DEFAULT_OVERFLOW = Overflow.DROP

CHARS_PER_TOKEN = 4  # a common rule of thumb for English text with BPE tokenizers
MESSAGE_OVERHEAD = 4  # the chat template's role markers around each message
MIN_REPLY_ROOM = 16  # tokens kept free for the reply when no maximum was asked for
SUMMARY_WORDS = 80
SUMMARY_PROMPT = "Summarise this conversation in at most {words} words. Keep names, facts and decisions."
SUMMARY_HEADING = "Summary of the earlier part of this conversation:"


@dataclass(frozen=True)
class ContextUsage:
    """How much of the model's context the conversation fills (what a meter shows)."""

    used: int  # tokens the conversation (and system prompt) take in the next request
    limit: int | None  # the model's context length; None when the provider does not say
    estimated: bool  # counted from the text's length, not by the model's tokenizer
    left_out: int = 0  # oldest messages dropped or summarised to fit
    summarised: bool = False
    overflow: Overflow | None = None  # what sending would do if it does not fit (the meter says so)

    @property
    def fraction(self) -> float | None:
        return None if not self.limit else self.used / self.limit

    @property
    def over(self) -> bool:
        """Longer than the context leaves room for (with room for a reply)."""
        return bool(self.limit) and self.used + MIN_REPLY_ROOM > self.limit

    def describe(self) -> str:
        """One line for a person: "Context: 180 of 256 tokens (70%)", "~ means estimated"."""
        count = f"{'~' if self.estimated else ''}{self.used:,}"
        if self.limit:
            text = f"Context: {count} of {self.limit:,} tokens ({round(100 * self.fraction)}%)"
        else:
            text = f"Context: {count} tokens (the model's context length is not known)"
        if self.estimated:
            text += ", estimated"
        if self.left_out:
            how = "summarised" if self.summarised else "left out"
            text += f"; the oldest {self.left_out} message{'s' if self.left_out != 1 else ''} {how} to fit"
        elif self.over and self.overflow is not None:
            how = "summarised" if self.overflow is Overflow.SUMMARISE else "left out"
            text += f"; too long: the oldest turns will be {how} when you send"
        return text


def estimate_tokens(request: ChatRequest) -> int:
    """A length-based estimate, for providers whose tokenizer is not at hand."""
    texts = [m.content for m in request.messages] + ([request.system] if request.system else [])
    return sum(-(-len(t) // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD for t in texts)


def reply_room(limit: int, params: GenerationParams) -> int:
    """Tokens to keep free for the reply: what was asked for, else an eighth of the context."""
    if params.max_tokens:
        return min(params.max_tokens, limit // 2)
    return max(MIN_REPLY_ROOM, limit // 8)


Counter = Callable[[ChatRequest], Awaitable[tuple[int, bool]]]  # → (tokens, estimated)
Summariser = Callable[[ChatRequest], Awaitable[str]]


@dataclass(frozen=True)
class Fitted:
    request: ChatRequest
    usage: ContextUsage
    #: a new summary to keep for later turns: (id of the last message it covers, its text)
    summary: tuple[str, str] | None = None


def _turn_starts(messages: Sequence[ChatMessage]) -> list[int]:
    """Where each turn (a user message and what follows it) begins; dropping goes turn by turn so that
    a reply is never sent without its question."""
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    return starts if starts and starts[0] == 0 else [0, *starts]


async def fit(
    request: ChatRequest,
    ids: Sequence[str],
    limit: int | None,
    count: Counter,
    how: Overflow,
    summarise: Summariser,
    kept_summary: tuple[str, str] | None = None,
) -> Fitted:
    """The request as it fits ``limit`` (less room for the reply). ``ids`` are the messages' ids (a
    summary is kept by the id of the last message it covers, ``kept_summary``, and reused while it is
    the same). The newest turn is always sent: if it alone is too long, the provider says so."""
    used, estimated = await count(request)
    if not limit or used + reply_room(limit, request.params) <= limit:
        return Fitted(request, ContextUsage(used, limit, estimated))
    budget = limit - reply_room(limit, request.params)
    starts = _turn_starts(request.messages)
    for start in starts[1:]:
        kept = replace(request, messages=request.messages[start:])
        if how is Overflow.SUMMARISE:
            through = ids[start - 1]
            text = kept_summary[1] if kept_summary and kept_summary[0] == through else None
            if text is None:
                text = await _summary(request, start, budget, count, summarise)
            turns = kept
            kept = _with_summary(turns, request.system, text)
        used, estimated = await count(kept)
        # a summary can take more tokens read back than the model wrote it with: halve it until it fits
        # (a few tries) before leaving out another turn
        while how is Overflow.SUMMARISE and used > budget and len(text) > 40:
            text = text[: len(text) // 2].rstrip() + " …"
            kept = _with_summary(turns, request.system, text)
            used, estimated = await count(kept)
        if used <= budget:
            summary = (ids[start - 1], text) if how is Overflow.SUMMARISE else None
            usage = ContextUsage(used, limit, estimated, start, how is Overflow.SUMMARISE)
            return Fitted(kept, usage, summary)
    # not even the newest turn fits with the reply's room: sent as it is, the provider explains
    return Fitted(request, ContextUsage(used, limit, estimated))


def _with_summary(turns: ChatRequest, system: str | None, text: str) -> ChatRequest:
    return replace(turns, system="\n\n".join(p for p in (system, f"{SUMMARY_HEADING}\n{text}") if p))


async def _summary(
    request: ChatRequest, start: int, budget: int, count: Counter, summarise: Summariser
) -> str:
    """The model's summary of the messages before ``start`` (the oldest of them left out of the
    summary's own request as needed, so that it fits too). The summary is kept short: a quarter of
    what the conversation may use, so that it and the newest turns fit together."""
    length = max(8, min(SUMMARY_WORDS * 2, budget // 4))
    older = list(request.messages[:start])
    while older:
        transcript = "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in older)
        asked = ChatRequest(
            model=request.model,
            messages=(ChatMessage("user", transcript),),
            system=SUMMARY_PROMPT.format(words=SUMMARY_WORDS),
            params=GenerationParams(max_tokens=length, temperature=0.2),
        )
        if (await count(asked))[0] + length <= budget:
            return (await summarise(asked)).strip() or "(no summary)"
        older = older[1:]
    return "(the earlier part was too long to summarise)"
