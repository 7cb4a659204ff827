"""An MCP server's settings as plain data, and the checks that make a bad entry one clear sentence.

A server is reached over **stdio** (a command the app starts, talking JSON-RPC on its stdin/stdout) or
over **streamable HTTP** (a URL). Values of environment variables and headers that are secrets (a token,
a key) never live here: only their *names* do (``secret_env``/``secret_headers``); the values are in the
keyring (see ``store.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlparse

STDIO: Literal["stdio"] = "stdio"
HTTP: Literal["http"] = "http"

#: how long starting a server (spawn, initialize, first tools/list) may take before it counts as hung
DEFAULT_START_TIMEOUT = 30.0
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token
#: names that almost always hold a credential: stored in the keyring unless the person says otherwise
SECRET_HINT = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS$|AUTH|CREDENTIAL|COOKIE|SESSION", re.I)


class McpConfigError(ValueError):
    """A server entry or a config file that cannot be used; the message says which and why."""


def looks_secret(name: str) -> bool:
    """Whether a variable or header of this name is a secret by default (``GITHUB_TOKEN``, ``Authorization``)."""
    return bool(SECRET_HINT.search(name))


@dataclass(frozen=True)
class McpServerConfig:
    """One configured server. ``env``/``headers`` hold plain values only; the names listed in
    ``secret_env``/``secret_headers`` have their values in the keyring."""

    name: str
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: frozenset[str] = frozenset()
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    secret_headers: frozenset[str] = frozenset()
    enabled: bool = True
    timeout: float = DEFAULT_START_TIMEOUT

    @property
    def source(self) -> str:
        """The name the agent loop and the approval prompt see: ``mcp:<name>``."""
        return f"mcp:{self.name}"

    def describe(self) -> str:
        """One line saying how the server is reached (no secret is part of it)."""
        if self.transport == STDIO:
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""

    def same_connection(self, other: McpServerConfig) -> bool:
        """Whether a running session made for ``other`` still fits this config (nothing but
        ``enabled`` differs)."""
        return self == other or _without_enabled(self) == _without_enabled(other)


def _without_enabled(config: McpServerConfig) -> tuple:
    return (
        config.name, config.transport, config.command, config.args, dict(config.env), config.secret_env,
        config.cwd, config.url, dict(config.headers), config.secret_headers, config.timeout,
    )  # fmt: skip


def check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise McpConfigError("An MCP server needs a name.")
    if not NAME_PATTERN.match(name):
        raise McpConfigError(
            f"'{name}' cannot name an MCP server: use up to 64 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit."
        )
    return name


def check_url(url: str, server: str) -> str:
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise McpConfigError(
            f"The MCP server '{server}' has the URL '{url}', which is not an http(s) URL "
            "(e.g. http://127.0.0.1:8000/mcp)."
        )
    if "@" in parsed.netloc:
        raise McpConfigError(
            f"The URL of the MCP server '{server}' has credentials written into it; they would be stored "
            "in plain text. Give them as a secret header instead (e.g. Authorization)."
        )
    return url


def _check_names(
    names: Mapping[str, str] | frozenset[str], pattern: re.Pattern, what: str, server: str
) -> None:
    for key in names:
        if not isinstance(key, str) or not pattern.match(key):
            raise McpConfigError(
                f"The MCP server '{server}' has {what} named {key!r}, which is not a valid name."
            )


def validate(config: McpServerConfig) -> McpServerConfig:
    """``config`` checked (and tidied): a reason a person can act on for the first problem found."""
    name = check_name(config.name)
    if config.transport not in (STDIO, HTTP):
        raise McpConfigError(f"The MCP server '{name}' has an unknown transport '{config.transport}'.")
    if not (0 < config.timeout <= 3600):
        raise McpConfigError(f"The MCP server '{name}' needs a start timeout between 0 and 3600 seconds.")
    _check_names(config.env, ENV_NAME, "an environment variable", name)
    _check_names(config.secret_env, ENV_NAME, "an environment variable", name)
    _check_names(config.headers, HEADER_NAME, "a header", name)
    _check_names(config.secret_headers, HEADER_NAME, "a header", name)
    both = set(config.env) & set(config.secret_env)
    if both:
        raise McpConfigError(
            f"The MCP server '{name}' has {sorted(both)[0]} both as a secret and as a plain value."
        )
    if config.transport == STDIO:
        command = (config.command or "").strip()
        if not command:
            raise McpConfigError(f"The MCP server '{name}' needs a command to start it (e.g. npx or uvx).")
        return replace(config, name=name, command=command, url=None, headers={}, secret_headers=frozenset())
    url = check_url(config.url or "", name)
    return replace(
        config, name=name, url=url, command=None, args=(), env={}, secret_env=frozenset(), cwd=None
    )
