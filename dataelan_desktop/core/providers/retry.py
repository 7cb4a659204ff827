"""Retry with backoff, only before anything has been shown.

A request that fails with 429 or 5xx before its first token is retried, honouring
Retry-After. Once text has reached the caller, a failure is final: retrying would
repeat or contradict what the person already read.
"""

from __future__ import annotations

import asyncio
import logging
import random
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
                raise
            log.info("retrying %s after %.2fs (try %d): %s", provider.name, wait, attempt + 1, error)
            if on_retry is not None:
                on_retry(attempt, wait, error)
            await sleep(wait)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
