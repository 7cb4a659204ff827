"""A real MCP server for the tests, written with the official SDK's server API (``MCPServer``).

    python tests/agents/mcp_server.py              # stdio
    python tests/agents/mcp_server.py --http PORT  # streamable HTTP on 127.0.0.1:PORT/mcp

MCP_TEST_FAIL_AT_START=1 makes it exit at once with a message on stderr; MCP_TEST_HANG_AT_START=1
makes it never answer (it reads nothing); MCP_TEST_HEADER_NAME=X makes the ``header`` tool report
that request header's value over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ImageContent, TextContent, ToolAnnotations

server = MCPServer("dataelan-test-server")


@server.tool(annotations=ToolAnnotations(read_only_hint=True, title="Add two numbers"))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def env(name: str) -> str:
    """The value of an environment variable of this server process ('<unset>' if none)."""
    return os.environ.get(name, "<unset>")


@server.tool(name="notes.search")
def notes_search(query: str) -> str:
    """A tool whose name has a dot (MCP allows it; model APIs do not)."""
    return f"notes about {query}"


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def boom() -> str:
    """A tool that raises."""
    raise RuntimeError("the boom tool always fails")


@server.tool()
def shout(kilobytes: int) -> str:
    """Writes that much to stderr (a chatty server's logging)."""
    line = "log line " + "x" * 90 + "\n"
    for _ in range(kilobytes * 1024 // len(line)):
        sys.stderr.write(line)
    sys.stderr.flush()
    return "done"


@server.tool()
def crash() -> str:
    """Exits the server process in the middle of the call."""
    print("crash tool: exiting now", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "unreachable"


@server.tool()
def block() -> str:
    """Never answers, and holds its thread (not its loop)."""
    time.sleep(3600)
    return "unreachable"


@server.tool()
def weather(city: str) -> dict[str, object]:
    """Structured content: a JSON object."""
    return {"city": city, "celsius": 21}


@server.tool()
def picture() -> list[TextContent | ImageContent]:
    """Text and an image."""
    return [TextContent(text="a red dot"), ImageContent(data="iVBORw0KGgo=", mime_type="image/png")]


@server.tool()
async def header(ctx: Context) -> str:
    """The request header named by MCP_TEST_HEADER_NAME (HTTP only)."""
    request = ctx.request_context.request
    name = os.environ.get("MCP_TEST_HEADER_NAME", "authorization")
    return request.headers.get(name, "<none>") if request is not None else "<no request>"


def main() -> None:
    if os.environ.get("MCP_TEST_FAIL_AT_START"):
        print("fatal: the test server was told to fail at start", file=sys.stderr, flush=True)
        sys.exit(2)
    if os.environ.get("MCP_TEST_HANG_AT_START"):
        time.sleep(3600)
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.settings.log_level = "WARNING"
        asyncio.run(server.run_streamable_http_async(host="127.0.0.1", port=int(sys.argv[2])))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
