"""Typed provider failures, each with a message a person can act on."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every failure a provider raises. ``str(err)`` is meant for people."""

    retryable = False

    def __init__(self, message: str, *, provider: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status

    def __str__(self) -> str:
        return self.message


class AuthenticationError(ProviderError):
    """The key is missing, wrong or not allowed to use this model (401/403)."""


class RateLimitedError(ProviderError):
    """429 or an "overloaded" answer; ``retry_after`` is in seconds when the server said."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ContextTooLongError(ProviderError):
    """The conversation no longer fits the model's context window."""


class UnavailableError(ProviderError):
    """The server could not be reached, failed (5xx), stalled, or dropped the stream."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class InvalidRequestError(ProviderError):
    """The request was refused as it stands (bad parameter, unknown model, malformed reply)."""


class ModelNotFoundError(InvalidRequestError):
    """The provider does not know this model."""


class ModelFileError(InvalidRequestError):
    """A local model file is missing, not a GGUF, truncated, or not usable by llama.cpp."""


class ConfigurationError(ProviderError):
    """Something the user must set up first: an unknown provider, a missing key."""


class GenerationCancelled(ProviderError):
    """The person stopped the generation; what arrived before is kept by the caller."""
