"""An in-process tool source for tests of the loop: quick, slow, failing and enormous tools."""

from __future__ import annotations

import asyncio
from typing import Any

from dataelan_desktop.core.agents.tools import AvailableTool, ToolOutcome
from dataelan_desktop.core.providers.types import ToolSpec

NUMBERS = {
    "type": "object",
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}


class TestTools:
    """``add`` (read-only), ``note`` (asks), ``slow`` (sleeps), ``boom`` (raises), ``big`` (a huge result)."""

    __test__ = False  # (not a pytest class)
    name = "test"

    def __init__(self, slow_seconds: float = 30.0, big_chars: int = 200_000):
        self.slow_seconds = slow_seconds
        self.big_chars = big_chars
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.slow_started = asyncio.Event()
        self.slow_cancelled = False

    async def list_tools(self) -> list[AvailableTool]:
        empty = {"type": "object", "properties": {}}
        return [
            AvailableTool(ToolSpec("add", "Add two numbers", NUMBERS), self.name, read_only=True),
            AvailableTool(
                ToolSpec(
                    "note", "Write a note", {"type": "object", "properties": {"text": {"type": "string"}}}
                ),
                self.name,
            ),
            AvailableTool(ToolSpec("slow", "Takes its time", empty), self.name, read_only=True),
            AvailableTool(ToolSpec("boom", "Always fails", empty), self.name, read_only=True),
            AvailableTool(ToolSpec("big", "A huge result", empty), self.name, read_only=True),
        ]

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        self.calls.append((tool, arguments))
        if tool == "add":
            return ToolOutcome(str(arguments["a"] + arguments["b"]))
        if tool == "note":
            return ToolOutcome(f"noted: {arguments.get('text', '')}")
        if tool == "slow":
            self.slow_started.set()
            try:
                await asyncio.sleep(self.slow_seconds)
            except asyncio.CancelledError:
                self.slow_cancelled = True
                raise
            return ToolOutcome("finally")
        if tool == "boom":
            raise RuntimeError("the disk is on fire")
        if tool == "big":
            return ToolOutcome("x" * self.big_chars)
        return ToolOutcome(f"unknown {tool}", is_error=True)
