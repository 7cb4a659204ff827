"""The agents feature's services, built from the app's (stores are stateless: built when needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .builtin import BuiltinTools, ToolSetError, parse_tool_sets
from .chat import AgentChat
from .store import AgentStore, AgentView
from .tools import AvailableTool, ToolOutcome, ToolSource

if TYPE_CHECKING:
    from ..services import Services


def agent_store(services: Services) -> AgentStore:
    return AgentStore(services.db, services.bus)


def agent_chat(services: Services) -> AgentChat:
    return AgentChat(services.chat, agent_store(services))


class OnlySome:
    """A source narrowed to some of its tools (``mcp:github:search`` names one tool of a server)."""

    def __init__(self, source: ToolSource, names: set[str]):
        self.source, self.names, self.name = source, names, source.name

    async def list_tools(self) -> list[AvailableTool]:
        return [t for t in await self.source.list_tools() if t.spec.name in self.names]

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        return await self.source.call(tool, arguments, timeout=timeout)


async def sources_for(
    services: Services, agent: AgentView | None, tool_sets: Sequence[str] = (), **kw: Any
) -> list[ToolSource]:
    """The tool sources a run uses: the built-ins its agent and ``tool_sets`` name (folders granted
    by ``files:DIR``), and the MCP servers they name (``mcp:SERVER`` for all of a server's tools,
    ``mcp:SERVER:TOOL`` for one). An unknown tool, folder or server is refused with one sentence."""
    entries = [*(agent.tools if agent else ()), *tool_sets]
    folders, names, others = parse_tool_sets(entries)
    if "run_workflow" in names:
        kw.setdefault("workflows", workflow_runner(services))
    sources: list[ToolSource] = [BuiltinTools(sorted(names), folders, db=services.db, **kw)] if names else []
    wanted: dict[str, set[str] | None] = {}  # server → its tools named (None: all)
    for entry in others:
        _, server, tool = entry.split(":", 2)
        if tool == "*":
            wanted[server] = None
        elif wanted.get(server, set()) is not None:
            wanted.setdefault(server, set()).add(tool)
    if wanted:
        found = {s.server.casefold(): s for s in await services.mcp.sources()}
        for server, tools in wanted.items():
            source = found.get(server.casefold())
            if source is None:
                raise ToolSetError(
                    f"No enabled MCP server named '{server}'. `dataelan mcp list` shows them; add one with `dataelan mcp add`."
                )
            sources.append(source if tools is None else OnlySome(source, tools))
    return sources


def workflow_runner(services: Services):
    """The ``run_workflow`` tool's work: a saved workflow run by the workflow engine (recorded like any
    run, its tool steps through these same sources), its outputs as the model's result."""

    async def run(name: str, inputs: dict[str, Any], timeout: float) -> ToolOutcome:
        import asyncio
        import json

        from ..workflows import open_store  # (lazy: only a run that uses workflows loads them)
        from ..workflows.engine import WorkflowEngine
        from ..workflows.tools import tool_caller

        store = open_store(services)
        try:
            saved = await asyncio.to_thread(store.get, name)
        except LookupError as error:
            return ToolOutcome(str(error), is_error=True)
        engine = WorkflowEngine(
            store, services.registry, templates=services.templates, tools=tool_caller(services)
        )
        try:
            result = await engine.start(saved.yaml, inputs, workflow_id=saved.id, version=saved.version)
        except ValueError as error:  # bad inputs: said to the model, which may call again
            return ToolOutcome(f"The workflow '{saved.name}' did not start: {error}", is_error=True)
        if result.status != "complete":
            said = result.error or f"it ended {result.status}"
            return ToolOutcome(
                f"The workflow '{saved.name}' did not complete: {said} (run {result.run_id}).", True
            )
        outputs = dict(result.outputs)
        text = (
            next(iter(outputs.values()))
            if len(outputs) == 1
            else json.dumps(outputs, ensure_ascii=False, indent=2)
        )
        return ToolOutcome(str(text))

    return run
