"""A provider refusing one tool's argument schema, said in terms of that tool.

OpenAI says ``Invalid schema for function 'x': ...`` (its ``param`` is ``tools[0].function.parameters``),
Anthropic says ``tools.0.custom.input_schema: JSON schema is invalid ...``: the one names the tool, the
other only its place in the request. A person reading either cannot tell which of an agent's tools
(often an MCP server's, whose schema they never wrote) to leave out, so the refusal is said again with
the tool's name and what to do. Other refusals pass through unchanged.
"""

from __future__ import annotations

import re

from .errors import InvalidRequestError, ProviderError
from .types import ChatRequest

_SCHEMA = re.compile(r"schema|parameters", re.IGNORECASE)
_INDEX = re.compile(r"tools(?:\[(\d+)\]|\.(\d+)\.)")
_NAMED = re.compile(r"(?:function|tool)\s+['\"`]([^'\"`]+)['\"`]", re.IGNORECASE)


def refused_tool(error: ProviderError, request: ChatRequest, provider: str) -> ProviderError:
    """``error`` said as the refusal of one named tool when it is one, else ``error`` itself."""
    if not request.tools or not isinstance(error, InvalidRequestError):
        return error
    message = error.message
    if not _SCHEMA.search(message):
        return error
    names = [tool.name for tool in request.tools]
    name = None
    named = _NAMED.search(message)
    if named and named.group(1) in names:
        name = named.group(1)
    else:
        place = _INDEX.search(message)
        index = int(place.group(1) or place.group(2)) if place else -1
        if 0 <= index < len(names):
            name = names[index]
    if name is None:
        return error
    return InvalidRequestError(
        f"{provider} refused the tool '{name}': it does not accept the description of its arguments "
        f"(JSON Schema). Leave that tool out (take it off the agent's tools, or switch off the MCP server "
        f"that offers it) and send again; nothing was lost. {provider} said: {message}",
        provider=error.provider or provider,
        status=error.status,
    )
