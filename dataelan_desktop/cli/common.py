"""What every CLI command shares: one-line errors, services, an asyncio runner."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

if TYPE_CHECKING:  # `dataelan` with no arguments opens the window before the database layer loads
    from ..core.services import Services


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status 1 (or ``code``)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise CliError(message, code)


_services: Services | None = None


def services() -> Services:
    """Open the database and services once per command."""
    global _services
    if _services is None:
        from ..core.services import build_services, setup_logging

        _services = build_services()
        setup_logging(_services.secrets)
        for notice in _services.db.notices:  # e.g. an empty database file kept aside: said, not hidden
            print(f"note: {notice}", file=sys.stderr)
            logging.getLogger("dataelan.db").warning(notice)
    return _services


def database_path() -> Path:
    """The database this command uses (or would use), without opening it."""
    if _services is not None and _services.db.path is not None:
        return _services.db.path
    from ..core import paths

    return paths.data_dir_location() / "dataelan.sqlite3"


def close_services() -> None:
    global _services
    if _services is not None:
        _services.close()
        _services = None


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    async def main() -> Any:
        try:
            return await coro
        finally:
            if _services is not None:
                await _services.aclose()

    return asyncio.run(main())


def out(text: str = "", end: str = "\n") -> None:
    sys.stdout.write(text + end)


class _RedactingStream:
    """A text stream that passes every write through the key redactor (keys the app has read, and
    anything shaped like a key or a credential in a URL) before it reaches the terminal or a pipe."""

    def __init__(self, stream: TextIO, *, patterns: bool):
        self._stream = stream
        self._patterns = patterns

    def write(self, text: str) -> int:
        from ..core.secrets import default_store

        self._stream.write(default_store().redact(text, patterns=self._patterns))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Everything a command prints goes through the redactor: errors (stderr) fully, replies and
    listings (stdout) for the keys the app knows and credentials written into URLs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = _RedactingStream(sys.stdout, patterns=False)  # type: ignore[assignment]
    sys.stderr = _RedactingStream(sys.stderr, patterns=True)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
