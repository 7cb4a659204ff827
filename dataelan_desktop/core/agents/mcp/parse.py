"""Reading server lists from JSON: Claude Desktop's ``claude_desktop_config.json`` and our own export.

Both are ``{"mcpServers": {name: entry}}``; an entry is ``{command, args, env}`` (stdio) or ``{url}``
(streamable HTTP), and ours may add ``cwd``, ``headers``, ``enabled`` and ``timeout``. A file that is
not JSON, or has no ``mcpServers`` object, is one :class:`McpConfigError`; a bad entry is one
problem line and the good entries are still read. Values under names that look like secrets
(``GITHUB_TOKEN``, ``Authorization``) come back apart, for the keyring.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    DEFAULT_START_TIMEOUT,
    HTTP,
    STDIO,
    McpConfigError,
    McpServerConfig,
    looks_secret,
    validate,
)


@dataclass(frozen=True)
class ParsedServer:
    config: McpServerConfig
    #: values of the names in ``config.secret_env`` / ``config.secret_headers``, for the keyring
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedFile:
    servers: list[ParsedServer]
    problems: list[str]  # one sentence per entry that could not be read


def claude_config_path() -> Path:
    """Where Claude Desktop keeps its config on this system."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "Claude" / "claude_desktop_config.json"
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "Claude" / "claude_desktop_config.json"


def read_config_file(path: Path | str) -> ParsedFile:
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise McpConfigError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise McpConfigError(f"{path} is a folder, not a config file.") from None
    except UnicodeDecodeError:
        raise McpConfigError(f"{path} is not a text (UTF-8) file.") from None
    except OSError as err:
        raise McpConfigError(f"{path} cannot be read: {err.strerror or err}.") from None
    return parse_config_text(text, path.name)


def parse_config_text(text: str, label: str = "the config") -> ParsedFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise McpConfigError(
            f"{label} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise McpConfigError(
            f'{label} has no "mcpServers" object; an MCP config looks like '
            '{"mcpServers": {"name": {"command": "...", "args": [...]}}}.'
        )
    servers, problems = [], []
    for name, entry in data["mcpServers"].items():
        try:
            servers.append(parse_entry(str(name), entry))
        except McpConfigError as err:
            problems.append(f"{label}: {err}")
    return ParsedFile(servers, problems)


def parse_entry(name: str, entry: Any) -> ParsedServer:
    """One ``mcpServers`` entry, checked."""
    if not isinstance(entry, dict):
        raise McpConfigError(f"the server '{name}' is not an object with a command or a url.")
    kind = str(entry.get("type") or entry.get("transport") or "").lower()
    if kind == "sse":
        raise McpConfigError(
            f"the server '{name}' uses the old SSE transport, which is not supported; "
            "use its streamable HTTP URL (often ending in /mcp)."
        )
    has_command, has_url = "command" in entry, "url" in entry
    if has_command and has_url:
        raise McpConfigError(f"the server '{name}' has both a command and a url; give one.")
    if not (has_command or has_url):
        raise McpConfigError(f"the server '{name}' has neither a command nor a url.")
    timeout = entry.get("timeout", DEFAULT_START_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise McpConfigError(f"the server '{name}' has a timeout that is not a number of seconds.")
    enabled = entry.get("enabled", not entry.get("disabled", False))
    secrets: dict[str, str] = {}
    if has_command:
        command = entry["command"]
        if not isinstance(command, str) or not command.strip():
            raise McpConfigError(f"the server '{name}' has a command that is not a non-empty string.")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
            raise McpConfigError(f"the server '{name}' has args that are not a list of strings.")
        env, secret_env = _split(name, entry.get("env", {}), "env", secrets)
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise McpConfigError(f"the server '{name}' has a cwd that is not a string.")
        config = McpServerConfig(
            name=name, transport=STDIO, command=command, args=tuple(str(a) for a in args), env=env,
            secret_env=secret_env, cwd=cwd or None, enabled=bool(enabled), timeout=float(timeout),
        )  # fmt: skip
    else:
        url = entry["url"]
        if not isinstance(url, str):
            raise McpConfigError(f"the server '{name}' has a url that is not a string.")
        headers, secret_headers = _split(name, entry.get("headers", {}), "headers", secrets)
        config = McpServerConfig(
            name=name, transport=HTTP, url=url, headers=headers, secret_headers=secret_headers,
            enabled=bool(enabled), timeout=float(timeout),
        )  # fmt: skip
    try:
        return ParsedServer(validate(config), secrets)
    except McpConfigError as err:  # validate speaks of "The MCP server 'x' ..."; keep the file's voice
        message = str(err)
        raise McpConfigError(message[0].lower() + message[1:]) from None


def _split(
    server: str, values: Any, what: str, secrets: dict[str, str]
) -> tuple[dict[str, str], frozenset[str]]:
    """Plain values, and the names of secret ones (their values go into ``secrets``)."""
    if not isinstance(values, dict):
        raise McpConfigError(f"the server '{server}' has {what} that is not an object of names and values.")
    plain: dict[str, str] = {}
    secret_names = set()
    for key, value in values.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise McpConfigError(f"the server '{server}' has {what} value for {key!r} that is not a string.")
        if looks_secret(str(key)):
            secrets[str(key)] = str(value)
            secret_names.add(str(key))
        else:
            plain[str(key)] = str(value)
    return plain, frozenset(secret_names)
