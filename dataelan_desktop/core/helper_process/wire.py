"""What crosses the pipe besides requests: failures with their type and fields, and how a process ended."""

from __future__ import annotations

import logging
import signal
import traceback

from ..providers import errors
from ..providers.errors import ProviderError, UnavailableError

log = logging.getLogger(__name__)


class ProcessDied(UnavailableError):
    """The helper process ended while a request was in flight; ``reason`` says how."""

    def __init__(self, message: str, *, reason: str, provider: str | None = None):
        super().__init__(message, provider=provider)
        self.reason = reason


class NoAnswerError(UnavailableError):
    """The helper process did not answer within the time a request allows."""


def exit_reason(code: int | None) -> str:
    """How a process ended, for a person: ``exit code 1``, ``killed by SIGKILL``."""
    if code is None:
        return "its exit status is unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


Fields = tuple[str, str, str | None, int | None, float | None, str | None]


def error_fields(error: BaseException, where: str) -> Fields:
    """A failure as plain values that cross the pipe. A provider error keeps its type and fields;
    anything else is an unexpected failure with its traceback, which the client writes to the app's
    log (through its key redactor: a helper process has no log of its own)."""
    if isinstance(error, ProviderError):
        retry_after = getattr(error, "retry_after", None)
        return (type(error).__name__, error.message, error.provider, error.status, retry_after, None)
    message = f"Unexpected error in {where}: {type(error).__name__}: {error}"
    return ("", message, None, None, None, "".join(traceback.format_exception(error)))


def error_from_fields(fields: Fields) -> ProviderError:
    """The typed failure :func:`error_fields` described, rebuilt on the client's side."""
    name, message, provider, status, retry_after, trace = fields
    if trace:
        log.error("%s\n%s", message, trace)
    kind = getattr(errors, name, None) if name else None
    if not (isinstance(kind, type) and issubclass(kind, ProviderError)):
        return ProviderError(message, provider=provider, status=status)
    if issubclass(kind, errors.RateLimitedError | errors.UnavailableError):
        return kind(message, provider=provider, status=status, retry_after=retry_after)
    return kind(message, provider=provider, status=status)
