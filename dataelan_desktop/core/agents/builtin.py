"""The built-in tools, one :class:`ToolSource` named "builtin".

calculator, current_time, list_files / read_file / write_file (inside the folders the person
granted, nowhere else), search_history (this app's conversations), fetch_url (never offline),
run_workflow (a saved workflow; asks).
Each has a JSON Schema for its arguments; the loop checks them before a call gets here.

Tool sets as a person names them (``--tools calc,files:~/notes`` and an agent's tool list):
``calc``, ``time``, ``files:<folder>``, ``search``, ``fetch``, ``workflows``.
"""

from __future__ import annotations

import ast
import asyncio
import math
import operator
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..providers.types import ToolSpec
from .tools import AvailableTool, ToolOutcome

SOURCE = "builtin"
TOOL_SETS = {
    "calc": ("calculator",),
    "time": ("current_time",),
    "files": ("list_files", "read_file", "write_file"),
    "search": ("search_history",),
    "fetch": ("fetch_url",),
    "workflows": ("run_workflow",),
}
READ_LIMIT = 200_000  # bytes of a file read at once
FETCH_LIMIT = 1_000_000  # bytes of a page fetched; the loop's own limit cuts what the model is sent
LIST_LIMIT = 500  # entries of a folder listed


class ToolSetError(ValueError):
    """A ``--tools`` entry that names nothing, or a folder that is not there; said for a person."""


def parse_tool_sets(entries: Sequence[str]) -> tuple[list[Path], set[str], set[str]]:
    """(granted folders, built-in tool names, other tool names such as MCP tools) of a tool list."""
    folders: list[Path] = []
    names: set[str] = set()
    others: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        kind, _, rest = entry.partition(":")
        if kind == "files":
            if not rest:
                raise ToolSetError("files needs a folder: files:PATH (for example files:~/notes).")
            folder = Path(rest).expanduser().resolve()
            if not folder.is_dir():
                raise ToolSetError(f"files:{rest} — there is no folder at {folder}.")
            folders.append(folder)
            names.update(TOOL_SETS["files"])
        elif kind in TOOL_SETS and not rest:
            names.update(TOOL_SETS[kind])
        elif entry in {n for group in TOOL_SETS.values() for n in group}:
            names.add(entry)
        elif kind == "mcp" and rest:  # an MCP server's tools: mcp:<server>:* or mcp:<server>:<tool>
            others.add(entry if rest.count(":") else f"{entry}:*")
        else:
            known = ", ".join([*TOOL_SETS, "files:PATH", "mcp:SERVER"])
            raise ToolSetError(f"Unknown tool '{entry}'. The built-in tools are: {known}.")
    return folders, names, others


# -- the calculator: numbers and operators only, walked by hand (never eval) ------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin,
    "cos": math.cos, "tan": math.tan, "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_POWER = 10_000  # 9**9**9 would take the process for minutes


class CalcError(ValueError):
    pass


def calculate(expression: str) -> float | int:
    """The value of an arithmetic expression: numbers, + - * / // % **, parentheses, a few functions."""
    if len(expression) > 1000:
        raise CalcError("The expression is too long (1000 characters at most).")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise CalcError(f"Not an arithmetic expression: {error.msg}.") from None
    return _value(tree.body)


def _value(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_POWER:
            raise CalcError(f"The exponent {right} is too large.")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise CalcError("Division by zero.") from None
        except OverflowError:
            raise CalcError("The result is too large.") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
        and not node.keywords and len(node.args) <= 2
    ):  # fmt: skip
        try:
            return _FUNCTIONS[node.func.id](*(_value(a) for a in node.args))
        except (ValueError, TypeError, OverflowError) as error:
            raise CalcError(f"{node.func.id}: {error}.") from None
    raise CalcError(f"Only numbers and arithmetic are allowed, not '{ast.unparse(node)}'.")


# -- the source ---------------------------------------------------------------------------------------


def _schema(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


PATH = {"type": "string", "description": "A path inside a granted folder (relative to it, or absolute)."}
SPECS = {
    "calculator": ToolSpec("calculator", "Evaluate an arithmetic expression exactly (+ - * / // % **, sqrt, log, sin, pi...).",
                           _schema({"expression": {"type": "string"}}, ["expression"])),
    "current_time": ToolSpec("current_time", "The current local date, time and time zone.", _schema({})),
    "list_files": ToolSpec("list_files", "List the files and folders in a granted folder.", _schema({"path": PATH})),
    "read_file": ToolSpec("read_file", "Read a text file inside a granted folder.", _schema({"path": PATH}, ["path"])),
    "write_file": ToolSpec("write_file", "Write (create or replace) a text file inside a granted folder. The person is always asked first.",
                           _schema({"path": PATH, "content": {"type": "string"}}, ["path", "content"])),
    "search_history": ToolSpec("search_history", "Search the person's earlier conversations in this app.",
                               _schema({"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 50}}, ["query"])),
    "fetch_url": ToolSpec("fetch_url", "Fetch a web page or file over HTTP(S) and return its text. The person is asked first.",
                          _schema({"url": {"type": "string", "pattern": "^https?://"}}, ["url"])),
    "run_workflow": ToolSpec("run_workflow", "Run one of the person's saved workflows with its inputs and return its outputs. The person is asked first.",
                             _schema({"name": {"type": "string"}, "inputs": {"type": "object"}}, ["name"])),
}  # fmt: skip
READ_ONLY = {"calculator", "current_time", "list_files", "read_file", "search_history"}
ALWAYS_ASK = {"write_file"}


def offline_by_default() -> bool:
    return os.environ.get("DATAELAN_OFFLINE", "").strip().lower() in ("1", "true", "yes")


class BuiltinTools:
    """The built-in tools this run may use: ``names`` of them, ``folders`` granted to the file tools."""

    name = SOURCE

    def __init__(
        self,
        names: Sequence[str] | None = None,
        folders: Sequence[Path | str] = (),
        *,
        db: Any = None,  # the app's Database, for search_history
        offline: bool | None = None,
        #: runs a saved workflow: (name, inputs, timeout) → what the model is told (see core/agents/service.py)
        workflows: Callable[[str, dict[str, Any], float], Any] | None = None,
    ):
        self.folders = [Path(f).expanduser().resolve() for f in folders]
        self.db = db
        self.offline = offline_by_default() if offline is None else offline
        wanted = set(SPECS) if names is None else set(names)
        if not self.folders:
            wanted -= set(TOOL_SETS["files"])
        if db is None:
            wanted.discard("search_history")
        if self.offline:
            wanted.discard("fetch_url")
        self.workflows = workflows
        if workflows is None:
            wanted.discard("run_workflow")
        self.names = [n for n in SPECS if n in wanted]

    @classmethod
    def from_sets(cls, entries: Sequence[str], **kw: Any) -> BuiltinTools:
        folders, names, _ = parse_tool_sets(entries)
        return cls(sorted(names), folders, **kw)

    async def list_tools(self) -> list[AvailableTool]:
        return [
            AvailableTool(SPECS[n], SOURCE, read_only=n in READ_ONLY, always_ask=n in ALWAYS_ASK)
            for n in self.names
        ]

    async def call(self, tool: str, arguments: dict[str, Any], *, timeout: float) -> ToolOutcome:
        if tool not in self.names:
            why = " (the app is offline)" if tool == "fetch_url" and self.offline else ""
            return ToolOutcome(f"The tool '{tool}' is not available here{why}.", is_error=True)
        try:
            if tool == "fetch_url":
                return await asyncio.wait_for(self._fetch(arguments["url"], timeout), timeout)
            if tool == "run_workflow":
                run = self.workflows(arguments["name"], dict(arguments.get("inputs") or {}), timeout)
                return await asyncio.wait_for(run, timeout)
            work = getattr(self, f"_{tool}")
            return await asyncio.wait_for(asyncio.to_thread(work, **arguments), timeout)
        except TimeoutError:
            return ToolOutcome(f"{tool} did not finish within {timeout:g} s.", is_error=True)
        except (
            CalcError,
            PermissionError,
            FileNotFoundError,
            NotADirectoryError,
            IsADirectoryError,
            ValueError,
        ) as error:
            return ToolOutcome(str(error), is_error=True)
        except OSError as error:
            return ToolOutcome(f"{tool}: {error.strerror or error}.", is_error=True)

    # -- each tool (run on a worker thread) ---------------------------------------------------

    def _calculator(self, expression: str) -> ToolOutcome:
        value = calculate(expression)
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)
        return ToolOutcome(str(value))

    def _current_time(self) -> ToolOutcome:
        now = datetime.now().astimezone()
        return ToolOutcome(f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {now.tzname()})")

    def inside(self, path: str) -> Path:
        """``path`` resolved (links followed, ``..`` applied) if it is inside a granted folder."""
        raw = Path(path).expanduser()
        candidates = [raw] if raw.is_absolute() else [folder / raw for folder in self.folders]
        for candidate in candidates:
            resolved = candidate.resolve()
            for folder in self.folders:
                if resolved == folder or resolved.is_relative_to(folder):
                    return resolved
        granted = ", ".join(str(f) for f in self.folders)
        raise PermissionError(f"'{path}' is outside the granted folders ({granted}).")

    def _list_files(self, path: str = ".") -> ToolOutcome:
        if path in ("", ".") and len(self.folders) > 1:  # which folders there are, to begin with
            return ToolOutcome("\n".join(f"{f}/" for f in self.folders))
        folder = self.folders[0] if path in ("", ".") else self.inside(path)
        entries = sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
        lines = [
            f"{e.name}/" if e.is_dir() else f"{e.name}  ({e.stat().st_size} bytes)"
            for e in entries[:LIST_LIMIT]
        ]
        if len(entries) > LIST_LIMIT:
            lines.append(f"… and {len(entries) - LIST_LIMIT} more")
        return ToolOutcome("\n".join(lines) or "(empty folder)")

    def _read_file(self, path: str) -> ToolOutcome:
        target = self.inside(path)
        with open(target, "rb") as handle:
            data = handle.read(READ_LIMIT + 1)
        if b"\x00" in data[:8192]:
            return ToolOutcome(f"{path} is a binary file, not text.", is_error=True)
        text = data[:READ_LIMIT].decode("utf-8", "replace")
        if len(data) > READ_LIMIT:
            text += f"\n\n[Only the first {READ_LIMIT:,} bytes of {path} are shown.]"
        return ToolOutcome(text)

    def _write_file(self, path: str, content: str) -> ToolOutcome:
        target = self.inside(path)
        if target.is_dir():
            raise IsADirectoryError(f"{path} is a folder.")
        if not target.parent.is_dir():
            raise FileNotFoundError(f"The folder {target.parent} does not exist.")
        # a new temporary file beside it (O_EXCL: a link planted at a fixed temporary name cannot
        # redirect the write outside), then renamed over it: a crash never leaves half a file
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".dataelan-tmp", dir=target.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as written:
                written.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return ToolOutcome(f"Wrote {len(content.encode('utf-8')):,} bytes to {target}.")

    def _search_history(self, query: str, limit: int = 10) -> ToolOutcome:
        from ..search import MARK_END, MARK_START, search_messages

        hits = search_messages(self.db, query, limit=limit)
        if not hits:
            return ToolOutcome(f"Nothing in the history matches '{query}'.")
        lines = [
            f"- [{h.conversation_title}] {h.role}: {h.snippet.replace(MARK_START, '').replace(MARK_END, '')}"
            for h in hits
        ]
        return ToolOutcome("\n".join(lines))

    async def _fetch(self, url: str, timeout: float) -> ToolOutcome:
        import httpx  # (lazy: only a run that fetches needs it)

        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
                async with client.stream("GET", url, headers={"User-Agent": "Dataelan"}) as response:
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > FETCH_LIMIT:
                            break
        except httpx.HTTPError as error:
            return ToolOutcome(f"Could not fetch {url}: {type(error).__name__}: {error}", is_error=True)
        body = b"".join(chunks)[:FETCH_LIMIT].decode(response.encoding or "utf-8", "replace")
        note = f"\n\n[Cut at {FETCH_LIMIT:,} bytes.]" if size > FETCH_LIMIT else ""
        if response.status_code >= 400:
            return ToolOutcome(f"{url} answered HTTP {response.status_code}: {body[:2000]}", is_error=True)
        return ToolOutcome(body + note)
