"""What every CLI command shares: one-line errors, services, an asyncio runner."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

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
    return _services


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
