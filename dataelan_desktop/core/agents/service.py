"""The agents feature's services, built from the app's (stores are stateless: built when needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .builtin import BuiltinTools, parse_tool_sets
from .chat import AgentChat
from .store import AgentStore, AgentView
from .tools import ToolSource

if TYPE_CHECKING:
    from ..services import Services


def agent_store(services: Services) -> AgentStore:
    return AgentStore(services.db, services.bus)


def agent_chat(services: Services) -> AgentChat:
    return AgentChat(services.chat, agent_store(services))


def sources_for(
    services: Services, agent: AgentView | None, tool_sets: Sequence[str] = (), **kw: Any
) -> list[ToolSource]:
    """The tool sources a run uses: the built-ins its agent and ``tool_sets`` name (folders granted
    by ``files:DIR``), and one source per MCP server named (``mcp:<server>:*`` / ``mcp:<server>:<tool>``;
    the server starts when its tools are first listed)."""
    entries = [*(agent.tools if agent else ()), *tool_sets]
    folders, names, others = parse_tool_sets(entries)
    if not entries:
        return []
    servers = sorted({entry.split(":")[1] for entry in others if entry.startswith("mcp:")})
    mcp: list[ToolSource] = []
    if servers:
        from .mcp.hub import McpToolSource  # (lazy: feature edge)

        mcp = [McpToolSource(services.mcp, server) for server in servers]
    return [BuiltinTools(sorted(names), folders, db=services.db, **kw), *mcp]
