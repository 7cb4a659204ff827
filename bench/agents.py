"""The agent loop's own cost per tool round trip: an instant in-process provider that calls a tool
every turn, and an in-process tool that answers at once. The baseline is the same turns and calls
made directly (fold the turn, call the tool) without the loop's checks, approvals and bookkeeping.
Then a tool call to an MCP server over stdio through the app's MCP hub (target ≤ 20 ms), against
the same call made with the SDK's ClientSession alone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dataelan_desktop.core.agents.loop import AgentLoop, Limits, ToolBox
from dataelan_desktop.core.agents.tools import AvailableTool, ToolOutcome
from dataelan_desktop.core.providers.reply import Reply, fold
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    Started,
    StopReason,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

from .harness import Figure

STEPS = 200  # tool round trips per run
RUNS = 5
TARGET_MS = 5.0
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
}


class InstantProvider:
    """Calls ``add`` every turn until ``steps`` calls were made, then answers."""

    def __init__(self, steps: int):
        self.steps = steps

    async def stream(self, request: ChatRequest):
        made = sum(1 for m in request.messages if m.role == "tool")
        yield Started(request.model)
        if made < self.steps:
            yield ToolCall(f"call_{made}", "add", '{"a": 1, "b": 2}')
            yield Usage(10, 5)
            yield Finished(StopReason.TOOL_CALLS)
        else:
            yield TextDelta("done")
            yield Usage(10, 1)
            yield Finished(StopReason.END)


class InstantTools:
    name = "bench"

    async def list_tools(self) -> list[AvailableTool]:
        return [AvailableTool(ToolSpec("add", "Add", SCHEMA), self.name, read_only=True)]

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        return ToolOutcome(str(arguments["a"] + arguments["b"]))


async def _loop_seconds() -> float:
    request = ChatRequest(model="bench", messages=())
    toolbox = await ToolBox.gather([InstantTools()])
    loop = AgentLoop(InstantProvider(STEPS), request, toolbox, limits=Limits(max_steps=STEPS + 1))
    began = time.perf_counter()
    result = await loop.run([ChatMessage("user", "go")])
    elapsed = time.perf_counter() - began
    assert len(result.runs) == STEPS and result.text == "done", result.notice
    return elapsed


async def _direct_seconds() -> float:
    """The same turns and calls with nothing in between: the provider's events folded, the tool called."""
    provider, tools = InstantProvider(STEPS), InstantTools()
    messages = [ChatMessage("user", "go")]
    began = time.perf_counter()
    while True:
        reply = Reply("bench")
        await fold(reply, provider.stream(ChatRequest(model="bench", messages=tuple(messages))))
        if not reply.tool_calls:
            break
        messages.append(ChatMessage("assistant", reply.text, tool_calls=tuple(reply.tool_calls)))
        for call in reply.tool_calls:
            outcome = await tools.call(call.name, {"a": 1, "b": 2}, timeout=120)
            messages.append(ChatMessage("tool", outcome.content, tool_call_id=call.id))
    return time.perf_counter() - began


def _median(make) -> float:
    times = sorted(asyncio.run(make()) for _ in range(RUNS))
    return times[len(times) // 2]


def run() -> list[Figure]:
    asyncio.run(_loop_seconds())  # warm up: jsonschema's import and first validator
    loop_ms = _median(_loop_seconds) * 1000 / STEPS
    direct_ms = _median(_direct_seconds) * 1000 / STEPS
    overhead = max(0.0, loop_ms - direct_ms)
    figures = [
        Figure(
            "agents: loop time per tool round trip",
            loop_ms,
            "ms",
            direct_ms,
            f"≤ {TARGET_MS:g} ms",
            loop_ms <= TARGET_MS,
        ),
        Figure(
            "agents: loop overhead per round trip",
            overhead,
            "ms",
            None,
            f"≤ {TARGET_MS:g} ms",
            overhead <= TARGET_MS,
        ),
    ]
    figures += _mcp_round_trip()
    return figures


MCP_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("dataelan-bench")


@server.tool()
def add(a: int, b: int) -> int:
    return a + b


server.run()
"""
MCP_CALLS = 100


def _mcp_round_trip() -> list[Figure]:
    """A tool call to an MCP server over stdio through the app's MCP hub (its own thread and loop),
    against the bare SDK's call to the same server."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    try:
        from dataelan_desktop.core.agents.mcp.config import STDIO, McpServerConfig
    except ImportError:
        print("agents: core/agents/mcp is not here: the MCP stdio round trip is not measured")
        return []
    home = Path(tempfile.mkdtemp(prefix="dataelan-bench-"))
    os.environ["DATAELAN_HOME"] = str(home)
    script = home / "bench_mcp_server.py"
    script.write_text(MCP_SERVER, encoding="utf-8")
    from dataelan_desktop.core.services import build_services

    services = build_services()

    async def measure() -> tuple[float, float]:
        services.mcp.store.save(McpServerConfig("bench", STDIO, command=sys.executable, args=(str(script),)))
        (source,) = await services.mcp.sources()
        await source.list_tools()  # starts the server
        await source.call("add", {"a": 1, "b": 2}, timeout=30)  # and warms its first call
        calls = []
        for _ in range(MCP_CALLS):
            began = time.perf_counter()
            outcome = await source.call("add", {"a": 1, "b": 2}, timeout=30)
            calls.append(time.perf_counter() - began)
            assert outcome.content == "3", outcome
        await services.mcp.aclose()
        return sorted(calls)[len(calls) // 2] * 1000, await _raw_sdk_ms(script)

    try:
        mcp_ms, sdk_ms = asyncio.run(measure())
    finally:
        services.close()
    return [
        Figure("agents: MCP stdio call (baseline: bare SDK)", mcp_ms, "ms", sdk_ms, "≤ 20 ms", mcp_ms <= 20.0)
    ]


async def _raw_sdk_ms(script) -> float:
    """The same call with the SDK's ClientSession alone, on this loop: what the server and the pipe cost."""
    import sys

    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(script)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("add", {"a": 1, "b": 2})
        calls = []
        for _ in range(MCP_CALLS):
            began = time.perf_counter()
            await session.call_tool("add", {"a": 1, "b": 2})
            calls.append(time.perf_counter() - began)
    return sorted(calls)[len(calls) // 2] * 1000
