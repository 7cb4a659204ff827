"""Shared pieces of SDK error mapping: Retry-After parsing and status → typed error."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC

from .errors import (
    AuthenticationError,
    ContextTooLongError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)

CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "prompt is too long",
    "too many tokens",
    "maximum context",
)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None for
    anything else: a header a server got wrong must not turn a retryable 429 into a crash."""
    if not headers:
        return None
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    value = headers.get("retry-after")
    seconds = _seconds(value)
    if seconds is not None or not value:
        return seconds
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" in a date means UTC by RFC 5322
        parsed = parsed.replace(tzinfo=UTC)
    return max(0.0, parsed.timestamp() - time.time())


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_for_status(
    status: int,
    detail: str,
    *,
    provider: str,
    model: str | None,
    headers: Mapping[str, str] | None = None,
    key_hint: str = "",
) -> ProviderError:
    """The typed error a person should see for an HTTP failure status."""
    detail = detail.strip() or f"HTTP {status}"
    lowered = detail.lower()
    if status in (401, 403):
        verb = "refused" if status == 401 else "not allowed to use this"
        return AuthenticationError(
            f"{provider}: the API key was {verb} ({status}: {detail}). {key_hint}".strip(),
            provider=provider,
            status=status,
        )
    if status == 404:
        return ModelNotFoundError(
            f"{provider} does not know the model '{model}' ({detail}). `dataelan models list {provider}` shows what it offers.",
            provider=provider,
            status=status,
        )
    if status == 429 or status == 529 or "overloaded" in lowered:
        wait = retry_after_seconds(headers)
        when = f" Try again in {wait:.0f} s." if wait is not None else " Try again shortly."
        what = "is overloaded" if status == 529 or "overloaded" in lowered else "is rate-limiting requests"
        return RateLimitedError(
            f"{provider} {what} ({status}: {detail}).{when}",
            retry_after=wait,
            provider=provider,
            status=status,
        )
    if status in (400, 413, 422) and any(h in lowered for h in CONTEXT_HINTS):
        return ContextTooLongError(
            f"The conversation is too long for {model} ({detail}). Start a new conversation or choose a model with a larger context.",
            provider=provider,
            status=status,
        )
    if status >= 500:
        return UnavailableError(
            f"{provider} had a server error ({status}: {detail}). Try again in a moment.",
            retry_after=retry_after_seconds(headers),
            provider=provider,
            status=status,
        )
    return InvalidRequestError(
        f"{provider} refused the request ({status}: {detail}).", provider=provider, status=status
    )


def body_message(body: object, fallback: str) -> str:
    """The human part of an error body like ``{"error": {"message": ...}}``."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return fallback


def transport_failure(error: BaseException) -> str | None:
    """Classify an HTTP-transport exception (httpx/httpx2) by its class names: stall, drop or connect."""
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & {"ReadTimeout", "TimeoutException", "WriteTimeout", "PoolTimeout"}:
        return "stall"
    if names & {"RemoteProtocolError", "ReadError"}:
        return "drop"
    if names & {"ConnectError", "ConnectTimeout"}:
        return "connect"
    return None


# --- the same failures, worded the same for every provider ---------------------------


def stalled(provider: str, seconds: float) -> UnavailableError:
    return UnavailableError(
        f"{provider} sent nothing for {seconds:.0f} s; the reply was stopped.", provider=provider
    )


def dropped(provider: str) -> UnavailableError:
    return UnavailableError(
        f"The connection to {provider} dropped mid-reply; the partial text was kept.", provider=provider
    )


def malformed(provider: str, error: Exception) -> InvalidRequestError:
    return InvalidRequestError(
        f"{provider} sent a malformed event ({error}); the reply was stopped and the partial text kept.",
        provider=provider,
    )


def unexpected(provider: str, error: Exception) -> UnavailableError:
    return UnavailableError(f"{provider}: {type(error).__name__}: {error}", provider=provider)
