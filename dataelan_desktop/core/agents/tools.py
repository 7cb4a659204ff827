"""The vocabulary every tool source speaks: the built-in tools and each MCP server alike.

The agent loop (``core/agents/loop.py``) only ever sees :class:`ToolSource` objects; a source
lists :class:`AvailableTool` entries and runs calls, answering every call with a
:class:`ToolOutcome` (an error is an outcome the model can read, never an exception that ends
the loop), so the transcript sent back to the provider always answers each call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..providers.types import ToolSpec


@dataclass(frozen=True)
class AvailableTool:
    """One tool as the loop and the approval prompt see it."""

    spec: ToolSpec  # name, description, JSON Schema of the arguments: what the model is shown
    source: str  # "builtin" or "mcp:<server name>"
    read_only: bool = False  # built-in read-only tools default to "always allow"
    #: asks every time whatever the policy says (writing a file): "always allow" does not apply
    always_ask: bool = False
    #: MCP annotations as the server sent them (readOnlyHint, destructiveHint, ...): shown, not trusted
    annotations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call returned: text for the model, and whether it is an error."""

    content: str
    is_error: bool = False


@runtime_checkable
class ToolSource(Protocol):
    """A set of tools: the built-ins, or one MCP server's session."""

    name: str  # "builtin" or "mcp:<server name>"

    async def list_tools(self) -> list[AvailableTool]:
        """The tools this source offers now (may start a server; raises ToolSourceError if it cannot)."""
        ...

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        """Run one call; a failure, a timeout or bad arguments come back as an error outcome."""
        ...


class ToolSourceError(Exception):
    """A tool source could not start or answer; the message is one sentence a person can act on."""
