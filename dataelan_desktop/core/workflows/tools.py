"""The ``tool`` step: one call of an agent tool (a built-in, or an MCP server's) with arguments, through
the agents' own tool sources (core/agents), so a workflow calls a tool exactly as an agent would."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agents.tools import ToolOutcome
    from ..services import Services

#: (tool, arguments, granted tool sets, timeout) → what it returned
ToolCaller = Callable[[str, dict[str, Any], Sequence[str], float], Awaitable["ToolOutcome"]]


class ToolUnavailable(LookupError):
    """The step names a tool that no granted source offers; the message says which exist."""


def tool_caller(services: Services) -> ToolCaller:
    async def call(
        tool: str, arguments: dict[str, Any], grants: Sequence[str], timeout: float
    ) -> ToolOutcome:
        from ..agents.builtin import ToolSetError
        from ..agents.loop import ToolBox, check_arguments
        from ..agents.service import sources_for

        name, entry = tool, tool
        if tool.startswith("mcp:"):  # mcp:SERVER:TOOL
            _mcp, server, name = (tool.split(":", 2) + ["", ""])[:3]
            if not server or not name:
                raise ToolUnavailable(f"'{tool}' is not a tool: write mcp:SERVER:TOOL.")
            entry = f"mcp:{server}:{name}"
        try:
            sources = await sources_for(services, None, [*grants, entry])
        except ToolSetError as exc:  # an unknown tool set, a folder or a server that is not there
            raise ToolUnavailable(str(exc)) from None
        box = await ToolBox.gather(sources)
        if name not in box.tools:
            known = ", ".join(sorted(box.tools)) or "none"
            problems = f" ({'; '.join(box.problems)})" if box.problems else ""
            raise ToolUnavailable(f"no tool '{tool}' is available{problems}; available: {known}")
        source, available = box.tools[name]
        checked, problem = check_arguments(json.dumps(arguments), available.spec.parameters)
        if problem:
            raise ToolUnavailable(problem)
        return await source.call(name, checked, timeout=timeout)

    return call
