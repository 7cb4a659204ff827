"""Shared by the MCP tests: the test server's settings, a loopback HTTP server, a loop ticker."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dataelan_desktop.core.agents.mcp.config import STDIO, McpServerConfig

SERVER = Path(__file__).with_name("mcp_server.py")
T = TypeVar("T")


def stdio_config(name: str = "test", *, timeout: float = 30.0, **kw: Any) -> McpServerConfig:
    """The test server over stdio, started with this Python."""
    return McpServerConfig(name, STDIO, command=sys.executable, args=(str(SERVER),), timeout=timeout, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def http_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """The test server over streamable HTTP on 127.0.0.1 (a process of its own); yields its URL."""
    import os

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test MCP server did not start listening") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Ticks:
    """How the caller's loop kept time while something was awaited."""

    count: int = 0
    gaps: list[float] = field(default_factory=list)

    @property
    def longest(self) -> float:
        return max(self.gaps, default=0.0)


async def while_ticking(awaitable: Awaitable[T], interval: float = 0.01) -> tuple[T, Ticks]:
    """Await ``awaitable`` while a ticker on the same loop counts its wake-ups: a loop held up by
    the awaited work would show long gaps and few ticks."""
    ticks = Ticks()

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(interval)
            now = time.perf_counter()
            ticks.count += 1
            ticks.gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        result = await awaitable
    finally:
        ticker.cancel()
    return result, ticks
