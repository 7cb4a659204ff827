"""The MCP hub: the app's configured servers as tool sources, their sessions and their status.

    sources = await services.mcp.sources()     # one McpToolSource per enabled server
    tools = await sources[0].list_tools()      # starts the server on first use
    outcome = await sources[0].call("add", {"a": 1}, timeout=120)
    await services.mcp.aclose()                # stops every server (Services.aclose does this)

Every method here may be awaited on any loop (the window's qasync loop, the CLI's asyncio.run):
the work runs on the MCP host's own thread and loop (``host.py``), so a server that hangs or
crashes never holds the caller's loop up. Status changes publish ``Changes(mcp_servers=True)``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from ...changes import ChangeBus, Changes
from ..tools import AvailableTool, ToolOutcome, ToolSourceError
from .config import McpServerConfig
from .host import McpHost
from .status import ServerStatus
from .store import McpServerStore

if TYPE_CHECKING:  # the SDK is imported when the first server starts, not with the app
    from .session import McpSession


class McpUnavailableError(ToolSourceError, OSError):
    """The MCP SDK cannot be imported here: said as the installation's problem, in one sentence."""


class McpToolSource:
    """One configured MCP server as a :class:`~dataelan_desktop.core.agents.tools.ToolSource`."""

    def __init__(self, hub: McpHub, server: str):
        self._hub = hub
        self.server = server
        self.name = f"mcp:{server}"

    def __repr__(self) -> str:
        return f"McpToolSource({self.server!r})"

    async def list_tools(self) -> list[AvailableTool]:
        """The server's tools (it is started on first use); ToolSourceError if it cannot start."""
        return await self._hub.host.run(self._hub._list_tools(self.server))

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        """Run one call; a timeout, a crash or a refusal is an error outcome, never an exception."""
        return await self._hub.host.run(self._hub._call(self.server, tool, arguments, timeout))


class McpHub:
    def __init__(self, store: McpServerStore, bus: ChangeBus, host: McpHost | None = None):
        self.store = store
        self.bus = bus
        self.host = host or McpHost()
        self._sessions: dict[str, McpSession] = {}  # touched on the host loop only
        self._statuses: dict[str, ServerStatus] = {}
        self._status_lock = threading.Lock()

    # -- for the agent loop -----------------------------------------------------------------------

    async def sources(self) -> list[McpToolSource]:
        """A source per enabled server, in name order (servers are started when first listed or called)."""
        names = await self.host.run(self._reconcile())
        return [McpToolSource(self, name) for name in names]

    async def aclose(self) -> None:
        """Stop every server and the host thread (bounded; never blocks the caller's loop)."""
        if self.host.started:
            await self.host.run(self._stop_all())
        await asyncio.to_thread(self.host.close)

    def close(self) -> None:
        """The same from synchronous code that runs no loop (the CLI's exit path)."""
        self.host.close(self._stop_all() if self.host.started else None)

    # -- for the Settings page and the CLI --------------------------------------------------------

    def statuses(self) -> dict[str, ServerStatus]:
        """The last known status of each server that was started this run (thread-safe snapshot)."""
        with self._status_lock:
            return dict(self._statuses)

    async def refresh(self) -> list[str]:
        """Stop the sessions of servers removed, disabled or changed since they started; returns the
        enabled servers' names (call after saving settings)."""
        return await self.host.run(self._reconcile())

    async def start(self, name: str) -> ServerStatus:
        return await self.host.run(self._start(name, restart=False))

    async def restart(self, name: str) -> ServerStatus:
        return await self.host.run(self._start(name, restart=True))

    async def stop(self, name: str) -> None:
        await self.host.run(self._stop(name))

    # -- on the host loop -------------------------------------------------------------------------

    async def _configs(self) -> list[McpServerConfig]:
        return await asyncio.to_thread(self.store.list)  # the database thread; the host loop keeps going

    async def _reconcile(self) -> list[str]:
        configs = {c.name: c for c in await self._configs()}
        for name, session in list(self._sessions.items()):
            config = configs.get(name)
            if config is None or not config.enabled or not config.same_connection(session.config):
                await self._stop(name)
        return [name for name, config in configs.items() if config.enabled]

    def _session(self, config: McpServerConfig) -> McpSession:
        try:
            from .session import McpSession  # the SDK loads here, when a server is first used
        except ImportError as err:  # an installation (or a bundle) without the SDK or what it imports
            raise McpUnavailableError(
                f"MCP support is missing from this installation ({err}); reinstall Dataelan Desktop "
                "or install the SDK: pip install 'mcp>=2.3,<3'."
            ) from None

        session = self._sessions.get(config.name)
        if session is None:
            session = McpSession(config, self.store.resolve, self._publish)
            self._sessions[config.name] = session
        return session

    async def _enabled_session(self, name: str) -> McpSession:
        session = self._sessions.get(name)  # settings changes reach running sessions through refresh()
        if session is not None:
            return session
        config = next((c for c in await self._configs() if c.name.casefold() == name.casefold()), None)
        if config is None:
            raise ToolSourceError(f"There is no MCP server named '{name}' (see Settings → MCP).")
        if config.name in self._sessions:
            return self._sessions[config.name]
        if not config.enabled:
            raise ToolSourceError(f"The MCP server '{name}' is disabled.")
        return self._session(config)

    async def _start(self, name: str, *, restart: bool) -> ServerStatus:
        config = next((c for c in await self._configs() if c.name.casefold() == name.casefold()), None)
        if config is None:
            raise LookupError(f"There is no MCP server named '{name}' (see `dataelan mcp list`).")
        if not config.enabled:
            raise ValueError(f"The MCP server '{config.name}' is disabled; enable it first.")
        await self._reconcile()
        session = self._session(config)
        return await (session.restart() if restart else session.start())

    async def _stop(self, name: str) -> None:
        session = self._sessions.pop(name, None)
        if session is not None:
            await session.stop()
        with self._status_lock:
            self._statuses.pop(name, None)
        self.bus.publish(Changes(mcp_servers=True))

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self._stop(name) for name in list(self._sessions)), return_exceptions=True)

    async def _list_tools(self, name: str) -> list[AvailableTool]:
        session = await self._enabled_session(name)
        return await session.list_tools()

    async def _call(self, name: str, tool: str, arguments: dict[str, Any], timeout: float) -> ToolOutcome:
        try:
            session = await self._enabled_session(name)
        except ToolSourceError as err:
            return ToolOutcome(str(err), is_error=True)
        return await session.call(tool, arguments, timeout)

    def _publish(self, status: ServerStatus) -> None:
        with self._status_lock:
            self._statuses[status.name] = status
        self.bus.publish(Changes(mcp_servers=True))
