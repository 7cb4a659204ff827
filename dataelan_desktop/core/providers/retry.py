"""Retry with backoff, only before anything has been shown.

A request that fails with 429 or 5xx before its first token is retried, honouring
Retry-After. Once text has reached the caller, a failure is final: retrying would
repeat or contradict what the person already read.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from .base import Provider
from .errors import ProviderError
from .types import ChatRequest, Started, StreamEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # total tries, the first included
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0  # a longer Retry-After is reported, not waited out

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or None to give up."""
        if attempt >= self.attempts or not error.retryable:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (0.75 + random.random() / 2)  # jitter spreads simultaneous retries


Sleeper = Callable[[float], Awaitable[None]]


async def stream_with_retries(
    provider: Provider,
    request: ChatRequest,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleeper = asyncio.sleep,
    on_retry: Callable[[int, float, ProviderError], None] | None = None,
) -> AsyncIterator[StreamEvent]:
    attempt = 0
    started_sent = False
    began = time.monotonic()
    while True:
        attempt += 1
        shown_anything = False
        stream = provider.stream(request)
        try:
            async for event in stream:
                if isinstance(event, Started):
                    if started_sent:
                        continue  # a retry's Started is not news to the caller
                    started_sent = True
                else:
                    shown_anything = True
                yield event
            return
        except ProviderError as error:
            wait = None if shown_anything else policy.delay(attempt, error)
            if wait is None:
                if attempt > 1:
                    raise _after_tries(error, attempt, time.monotonic() - began) from error
                raise
            log.info("retrying %s after %.2fs (try %d): %s", provider.name, wait, attempt + 1, error)
            if on_retry is not None:
                on_retry(attempt, wait, error)
            await sleep(wait)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()


async def build_then_stream(
    build: Callable[[], Provider], request: ChatRequest, policy: RetryPolicy = RetryPolicy()
) -> AsyncIterator[StreamEvent]:
    """Build the provider off the loop's thread (the first use imports its SDK: anthropic alone takes
    about a second), then stream from it with retries; a failure to build ends the stream as any other."""
    provider = await asyncio.to_thread(build)
    async for event in stream_with_retries(provider, request, policy):
        yield event


def _after_tries(error: ProviderError, tries: int, seconds: float) -> ProviderError:
    """The last failure, saying how long the person waited in all: "sent nothing for 60 s" after three
    tries of a stalled server was three minutes of waiting, not one."""
    told = copy.copy(error)
    told.message = f"{error.message} Tried {tries} times over {_duration(seconds)} in all."
    told.args = (told.message,)
    return told


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
