"""The MCP client: each configured MCP server becomes a tool source for the agent loop.

``config.py`` (a server's settings), ``parse.py`` (Claude Desktop's config file), ``store.py`` (the
``mcp_servers`` table and the keyring), ``host.py`` (the thread where sessions run), ``session.py``
(one server's lifecycle with the official ``mcp`` SDK), ``hub.py`` (what the app calls). The SDK is
imported only when a server first starts.

Nothing is imported here: ``core/db/tables.py`` loads ``tables.py`` while the database layer is still
being imported. Import ``hub.McpHub``, ``store.McpServerStore`` and ``config.McpServerConfig`` directly.
"""
