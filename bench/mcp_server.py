"""The MCP server the MCP benchmark calls: one instant tool, written with the SDK's server API."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("dataelan-bench", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    server.run("stdio")
