"""One MCP server's session, from start to stop, on the MCP host's loop (never the window's).

The official SDK's ``Client`` is entered and left inside one long-lived task (the *runner*), since
anyio's scopes must be exited by the task that entered them; calls run in their own tasks beside
it. The read side of the transport is watched, so that a server that exits while idle turns the
status to failed at once, with the last line it wrote to stderr as the reason.

States: stopped → starting → ready, or failed with a reason; :meth:`McpSession.stop` from any state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from .... import __version__ as _app_version
from ...providers.types import ToolSpec
from ..tools import AvailableTool, ToolOutcome, ToolSourceError
from .config import STDIO, McpServerConfig
from .render import render_result
from .status import ServerState, ServerStatus
from .store import ResolvedServer

log = logging.getLogger(__name__)

#: how many pages of tools/list are read at most (a paginator that never ends cannot hang a start)
MAX_TOOL_PAGES = 100
#: how long a stop waits for the runner after cancelling it (the SDK's own stdio shutdown is bounded)
STOP_TIMEOUT = 8.0
#: a server's stderr goes to a temporary file; its last line explains a failure
STDERR_TAIL = 4096
STDERR_KEEP = 1024 * 1024


Resolver = Callable[[McpServerConfig], ResolvedServer]


class McpSession:
    """Lives on the host loop: every method here must be awaited there."""

    def __init__(self, config: McpServerConfig, resolve: Resolver, on_status: Callable[[ServerStatus], None]):
        self.config = config
        self._resolve = resolve
        self._on_status = on_status
        self.status = ServerStatus(config.name)
        self._runner: asyncio.Task | None = None
        self._ready: asyncio.Future[Any] | None = None
        self._client: Client | None = None
        self._stderr: Any = None
        self._stale_tools = False
        self._names: dict[str, str] = {}  # the name a model sees → the server's own tool name

    @property
    def name(self) -> str:
        return self.config.name

    def _set(
        self, state: ServerState, reason: str | None = None, tools: tuple[AvailableTool, ...] = ()
    ) -> None:
        self.status = ServerStatus(self.name, state, reason, tools)
        try:
            self._on_status(self.status)
        except Exception:  # noqa: BLE001 - a listener's fault must not end the session
            log.exception("MCP status listener failed")

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> ServerStatus:
        """Start the server if it is stopped; wait until it is ready or failed. A failed server is not
        started again here (that is :meth:`restart`): a broken command would be retried on every call."""
        if self._runner is None or (self._runner.done() and self.status.state is ServerState.STOPPED):
            self._ready = asyncio.get_running_loop().create_future()
            self._set(ServerState.STARTING)
            self._runner = asyncio.create_task(self._run(self._ready), name=f"mcp:{self.name}")
        if self._ready is not None and not self._ready.done():
            await asyncio.shield(self._ready)
        return self.status

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await asyncio.gather(runner, return_exceptions=True)
            except TimeoutError:
                log.warning("the MCP server %s did not stop within %s s", self.name, STOP_TIMEOUT)
        self._client = None
        if self.status.state is not ServerState.STOPPED:
            self._set(ServerState.STOPPED)

    async def restart(self) -> ServerStatus:
        await self.stop()
        return await self.start()

    async def _run(self, ready: asyncio.Future[Any]) -> None:
        reason: str | None = None
        try:
            async with AsyncExitStack() as stack:
                ended = asyncio.Event()
                try:
                    async with asyncio.timeout(self.config.timeout):
                        resolved = await asyncio.to_thread(self._resolve, self.config)  # the keyring may wait
                        client = await stack.enter_async_context(self._client_for(resolved, stack, ended))
                        tools = await self._list_tools(client)
                except TimeoutError:
                    raise _Failed(
                        f"It did not answer within {self.config.timeout:g} s of starting (raise its timeout "
                        "if it is slow to start)." + self._stderr_note()
                    ) from None
                self._client = client
                self._set(ServerState.READY, tools=tools)
                ready.set_result(None)
                await ended.wait()  # the server closed its side: exited, or the connection dropped
                reason = "It stopped unexpectedly." + self._stderr_note()
        except asyncio.CancelledError:
            self._client = None
            self._set(ServerState.STOPPED)
            if not ready.done():
                ready.set_result(None)
            raise
        except _Failed as err:
            reason = str(err)
        except BaseException as err:  # noqa: BLE001 - every failure of a server becomes its status
            reason = self._explain(_leaf(err))
        finally:
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
        self._client = None
        self._set(ServerState.FAILED, reason)
        if not ready.done():
            ready.set_result(None)

    def _client_for(self, resolved: ResolvedServer, stack: AsyncExitStack, ended: asyncio.Event) -> Client:
        info = Implementation(name="dataelan-desktop", version=_app_version)
        config = self.config
        if config.transport == STDIO:
            if config.cwd and not os.path.isdir(os.path.expanduser(config.cwd)):
                raise _Failed(f"Its working folder {config.cwd} does not exist.")
            command = os.path.expanduser(config.command or "")
            search = resolved.env.get("PATH") or os.environ.get("PATH")
            if os.sep not in command and shutil.which(command, path=search) is None:
                raise _Failed(
                    f"The command '{config.command}' was not found; install it or give its full path."
                )
            self._stderr = _append_only(tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))
            params = StdioServerParameters(
                command=command,
                args=list(config.args),
                env=resolved.env or None,
                cwd=os.path.expanduser(config.cwd) if config.cwd else None,
            )
            transport = stdio_client(params, errlog=self._stderr)
        else:
            import httpx2  # the SDK's HTTP client (its own dependency)

            # no read bound of its own: a call's answer may come after the SDK's default 300 s, when the
            # person set a longer time per tool call, and each call is bounded by that time (``call``);
            # starting and listing by the server's own timeout. Connecting and sending keep 30 s.
            http = httpx2.AsyncClient(headers=resolved.headers, timeout=httpx2.Timeout(30.0, read=None))
            stack.push_async_callback(http.aclose)
            transport = streamable_http_client(config.url or "", http_client=http)
        return Client(
            _watched(transport, ended),
            client_info=info,
            read_timeout_seconds=None,  # each call brings its own timeout
            message_handler=self._on_message,
        )

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._stale_tools = True

    async def _list_tools(self, client: Client) -> tuple[AvailableTool, ...]:
        listed: list[Any] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        self._names = model_names([t.name for t in listed])
        shown = {original: name for name, original in self._names.items()}
        return tuple(self._available(t, shown[t.name]) for t in listed)

    def _available(self, tool: Any, name: str) -> AvailableTool:
        annotations = (
            tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
        )
        description = (
            tool.description or getattr(tool, "title", None) or annotations.get("title") or tool.name
        )
        schema = dict(tool.input_schema or {}) or {"type": "object", "properties": {}}
        return AvailableTool(
            spec=ToolSpec(name, description, schema),
            source=self.config.source,
            read_only=False,  # annotations are shown to the person, never trusted to skip a question
            annotations=annotations,
        )

    # -- use -----------------------------------------------------------------------------------

    async def _ready_client(self) -> Client:
        status = await self.start()
        if status.state is ServerState.FAILED:
            raise ToolSourceError(f"The MCP server '{self.name}' failed: {status.reason}")
        if self._client is None:
            raise ToolSourceError(f"The MCP server '{self.name}' is {status.state.value}.")
        return self._client

    async def list_tools(self) -> list[AvailableTool]:
        client = await self._ready_client()
        if self._stale_tools:  # the server said its tools changed
            self._stale_tools = False
            async with asyncio.timeout(self.config.timeout):
                tools = await self._list_tools(client)
            self._set(ServerState.READY, tools=tools)
        return list(self.status.tools)

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> ToolOutcome:
        try:
            client = await self._ready_client()
        except ToolSourceError as err:
            return ToolOutcome(str(err), is_error=True)
        try:
            async with asyncio.timeout(timeout):
                result = await client.call_tool(self._names.get(tool, tool), arguments or {})
        except TimeoutError:
            return ToolOutcome(
                f"The tool '{tool}' of the MCP server '{self.name}' did not answer within {timeout:g} s; "
                "the call was cancelled.",
                is_error=True,
            )
        except MCPError as err:
            if (
                self._client is None
                or self.status.state is not ServerState.READY
                or "closed" in err.message.lower()
            ):
                runner = self._runner
                if runner is not None and not runner.done():  # let the runner record why it went away
                    await asyncio.wait({runner}, timeout=3.0)
                why = self.status.reason if self.status.state is ServerState.FAILED else None
                return ToolOutcome(
                    f"The MCP server '{self.name}' stopped while running '{tool}'."
                    + (f" {why}" if why else ""),
                    is_error=True,
                )
            return ToolOutcome(
                f"The MCP server '{self.name}' refused the call to '{tool}': {err.message}", True
            )
        except Exception as err:  # noqa: BLE001 - any failure is an outcome the model can read
            leaf = _leaf(err)
            return ToolOutcome(f"The call to '{tool}' on the MCP server '{self.name}' failed: {leaf}", True)
        self._trim_stderr()
        text = render_result(list(result.content or []), result.structured_content)
        if result.is_error and not text:
            text = f"The tool '{tool}' reported an error without saying what."
        return ToolOutcome(text, is_error=bool(result.is_error))

    # -- explaining failures -------------------------------------------------------------------

    def _stderr_note(self) -> str:
        line = self._stderr_tail()
        return f" Its last words: {line}" if line else ""

    def _stderr_tail(self) -> str | None:
        """The last line the server wrote to stderr (read with pread: the server shares the offset)."""
        if self._stderr is None:
            return None
        try:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            tail = os.pread(fd, STDERR_TAIL, max(0, size - STDERR_TAIL)).decode("utf-8", "replace")
        except (OSError, ValueError):
            return None
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return lines[-1][:300] if lines else None

    def _trim_stderr(self) -> None:
        """Keep a chatty server's stderr file small over a long session: its tail is all we read."""
        if self._stderr is None or os.name != "posix":  # O_APPEND is set on POSIX only
            return
        try:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            if size > STDERR_KEEP:
                tail = os.pread(fd, STDERR_TAIL, size - STDERR_TAIL)
                os.ftruncate(fd, 0)
                os.write(fd, tail)  # appended: the file is opened O_APPEND, for the server too
        except OSError:
            pass

    def _explain(self, err: BaseException) -> str:
        if isinstance(err, _Failed):
            return str(err)
        if isinstance(err, FileNotFoundError):
            return f"The command '{self.config.command}' was not found; install it or give its full path."
        if isinstance(err, PermissionError):
            return f"The command '{self.config.command}' cannot be run (permission denied)."
        if isinstance(err, MCPError):
            if "closed" in err.message.lower():
                return "It exited before it was ready." + self._stderr_note()
            return f"It refused to start: {err.message}"
        if self.config.transport != STDIO and type(err).__module__.startswith(("httpx", "httpcore")):
            return f"Could not reach {self.config.url}: {err or type(err).__name__}."
        from .config import McpConfigError

        if isinstance(err, McpConfigError):
            return str(err)
        log.warning("MCP server %s failed", self.name, exc_info=err)
        return f"{type(err).__name__}: {err}" + self._stderr_note()


def model_names(names: list[str]) -> dict[str, str]:
    """A name each provider accepts (``^[A-Za-z0-9_-]{1,64}$``) for each of a server's tool names
    (MCP allows dots, slashes and longer names), kept apart when two would become one."""
    chosen: dict[str, str] = {}
    for original in names:
        base = (re.sub(r"[^A-Za-z0-9_-]", "_", original) or "tool")[:64]
        name, n = base, 2
        while name in chosen:
            suffix = f"_{n}"
            name, n = base[: 64 - len(suffix)] + suffix, n + 1
        chosen[name] = original
    return chosen


def _append_only(file: Any) -> Any:
    """``file`` with O_APPEND set, so that trimming it leaves no hole where the server writes next."""
    try:
        import fcntl

        flags = fcntl.fcntl(file.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(file.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
    except (ImportError, OSError):  # Windows: no trimming, the file is deleted with the session
        pass
    return file


class _Failed(Exception):
    """A start that failed for a reason already put into words."""


def _leaf(err: BaseException) -> BaseException:
    """The first real error inside (anyio wraps task-group failures in exception groups)."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return err


@asynccontextmanager
async def _watched(transport: Any, ended: asyncio.Event):
    """``transport`` with its read stream watched: ``ended`` is set when the server's side closes."""
    async with transport as (read_stream, write_stream):
        yield _WatchedReadStream(read_stream, ended), write_stream
    ended.set()


class _WatchedReadStream:
    """The SDK's read stream, reporting end of stream (the server exited or hung up)."""

    def __init__(self, inner: Any, ended: asyncio.Event):
        self._inner = inner
        self._ended = ended

    def __getattr__(self, name: str) -> Any:  # last_context and anything else the SDK reads
        return getattr(self._inner, name)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except BaseException as err:
            if not isinstance(err, asyncio.CancelledError):
                self._ended.set()
            raise

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            self._ended.set()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedReadStream:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._inner.__aexit__(*exc)
