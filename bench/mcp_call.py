"""An MCP tool call's round trip over stdio, through the app's hub (the MCP host thread, its bridge to
the caller's loop, rendering the result), against the SDK's own client calling the same server in the
same run. Target: the median round trip at most 20 ms."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from .harness import Figure

CALLS = 300
BATCHES = 6
TARGET_MS = 20.0
SERVER = Path(__file__).with_name("mcp_server.py")


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


async def _measure(hub) -> tuple[list[float], list[float]]:
    """Both ways in alternating batches, so that a busy machine weighs on both alike."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    (source,) = await hub.sources()
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    alone: list[float] = []
    ours: list[float] = []

    async def sdk_call(client, i: int) -> None:
        result = await client.call_tool("add", {"a": i, "b": 1})
        assert result.content[0].text == str(i + 1)

    async def hub_call(i: int) -> None:
        outcome = await source.call("add", {"a": i, "b": 1}, timeout=30)
        assert outcome.content == str(i + 1), outcome

    with open(os.devnull, "w") as quiet:
        async with Client(stdio_client(params, errlog=quiet)) as client:
            for i in range(20):  # warm up both
                await sdk_call(client, i)
                await hub_call(i)
            for batch in range(BATCHES):
                for samples, call in ((alone, partial(sdk_call, client)), (ours, hub_call)):
                    for i in range(CALLS // BATCHES):
                        began = time.perf_counter()
                        await call(batch * 1000 + i)
                        samples.append(time.perf_counter() - began)
    return alone, ours


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-")
    from dataelan_desktop.core.agents.mcp.config import STDIO, McpServerConfig
    from dataelan_desktop.core.agents.mcp.hub import McpHub
    from dataelan_desktop.core.agents.mcp.store import McpServerStore
    from dataelan_desktop.core.changes import ChangeBus
    from dataelan_desktop.core.db import open_database
    from dataelan_desktop.core.secrets import SecretStore

    db = open_database()
    bus = ChangeBus()
    store = McpServerStore(db, bus, SecretStore())
    store.save(McpServerConfig("bench", STDIO, command=sys.executable, args=(str(SERVER),)))
    hub = McpHub(store, bus)

    async def measure() -> tuple[list[float], list[float]]:
        try:
            return await _measure(hub)
        finally:
            await hub.aclose()

    try:
        base, mine = asyncio.run(measure())
    finally:
        db.close()
    base_ms, mine_ms = statistics.median(base) * 1000, statistics.median(mine) * 1000
    base_p95, mine_p95 = _p95(base) * 1000, _p95(mine) * 1000
    print(f"  mcp: stdio tool call {mine_ms:.2f} ms median, {mine_p95:.2f} ms p95 through the hub; "
          f"SDK alone {base_ms:.2f} / {base_p95:.2f} ms ({mine_ms / base_ms:.2f}x; target <= {TARGET_MS} ms)")  # fmt: skip
    return [
        Figure("mcp: stdio call, SDK client alone (median)", base_ms, "ms", None, "baseline", True),
        Figure("mcp: stdio call through the hub (median)", mine_ms, "ms", base_ms, f"<= {TARGET_MS} ms", mine_ms <= TARGET_MS),
        Figure("mcp: stdio call, SDK client alone (p95)", base_p95, "ms", None, "baseline", True),
        Figure("mcp: stdio call through the hub (p95)", mine_p95, "ms", base_p95, "report", True),
    ]  # fmt: skip
