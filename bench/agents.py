"""The agent loop's own cost per tool round trip: an instant in-process provider that calls a tool
every turn, and an in-process tool that answers at once. The baseline is the same turns and calls
made directly (fold the turn, call the tool) without the loop's checks, approvals and bookkeeping.
If ``core/agents/mcp`` is present, an MCP stdio tool call round trip too (target ≤ 20 ms)."""

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


def _mcp_round_trip() -> list[Figure]:
    """Only when the MCP client has landed (``core/agents/mcp``); otherwise said, not measured."""
    try:
        from dataelan_desktop.core.agents import mcp  # noqa: F401
    except ImportError:
        print("agents: core/agents/mcp is not here yet: the MCP stdio round trip is not measured")
        return []
    bench = getattr(mcp, "bench_round_trip_ms", None)
    if bench is None:
        print("agents: core/agents/mcp offers no bench_round_trip_ms(): the MCP round trip is not measured")
        return []
    value = bench()
    return [Figure("agents: MCP stdio tool call round trip", value, "ms", None, "≤ 20 ms", value <= 20.0)]
