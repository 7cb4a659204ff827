"""Configured MCP servers: the one writer of ``mcp_servers``; secret values go to the keyring.

A secret is kept under ``mcp:<server>:env:<NAME>`` or ``mcp:<server>:header:<Name>`` in the keyring;
the row lists only its name. Every save, switch or removal publishes ``Changes(mcp_servers=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...changes import ChangeBus, Changes
from ...db import Database
from ...db.tables import utcnow
from ...secrets import NoKeyringError
from .config import McpConfigError, McpServerConfig, validate
from .parse import read_config_file
from .tables import McpServerRow

if TYPE_CHECKING:
    from ...secrets import SecretStore


def secret_key(server: str, kind: str, name: str) -> str:
    """The keyring entry of one secret value (``kind`` is "env" or "header")."""
    return f"mcp:{server}:{kind}:{name}"


def _view(row: McpServerRow) -> McpServerConfig:
    return McpServerConfig(
        name=row.name, transport=row.transport, command=row.command, args=tuple(row.args or ()),  # type: ignore[arg-type]
        env=dict(row.env or {}), secret_env=frozenset(row.secret_env or ()), cwd=row.cwd, url=row.url,
        headers=dict(row.headers or {}), secret_headers=frozenset(row.secret_headers or ()),
        enabled=bool(row.enabled), timeout=float(row.timeout),
    )  # fmt: skip


def _columns(config: McpServerConfig) -> dict[str, object]:
    return {
        "name": config.name,
        "transport": config.transport,
        "command": config.command,
        "args": list(config.args),
        "env": dict(config.env),
        "secret_env": sorted(config.secret_env),
        "cwd": config.cwd,
        "url": config.url,
        "headers": dict(config.headers),
        "secret_headers": sorted(config.secret_headers),
        "enabled": config.enabled,
        "timeout": config.timeout,
    }


def _live(session: Session) -> list[McpServerRow]:
    return list(session.scalars(select(McpServerRow).where(McpServerRow.deleted_at.is_(None))))


def _find(session: Session, name: str) -> McpServerRow | None:
    # names are compared without case: `dataelan mcp rm GitHub` removes "github"
    return next((r for r in _live(session) if r.name.casefold() == name.casefold()), None)


@dataclass(frozen=True)
class ImportResult:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a server of that name exists already: kept as it is
    problems: list[str] = field(default_factory=list)  # one sentence per entry not imported


@dataclass(frozen=True)
class ResolvedServer:
    """A server's config with its secret values read back, ready to start; never stored or shown."""

    config: McpServerConfig
    env: dict[str, str]
    headers: dict[str, str]


class McpServerStore:
    """Adds, changes, switches and removes MCP servers, and tells the app."""

    def __init__(self, db: Database, bus: ChangeBus, secrets: SecretStore):
        self.db = db
        self.bus = bus
        self.secrets = secrets

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> list[McpServerConfig]:
        rows = self.db.call(lambda s: [_view(r) for r in _live(s)])
        return sorted(rows, key=lambda c: c.name.casefold())

    def get(self, name: str) -> McpServerConfig:
        found = self.db.call(lambda s: (lambda r: _view(r) if r else None)(_find(s, name)))
        if found is None:
            raise LookupError(f"There is no MCP server named '{name}' (see `dataelan mcp list`).")
        return found

    def resolve(self, config: McpServerConfig) -> ResolvedServer:
        """The secret values of ``config`` from the keyring (or, without one, from this process's
        environment under the same name), for starting the server."""
        env, headers = dict(config.env), dict(config.headers)
        for kind, names, target in (
            ("env", config.secret_env, env),
            ("header", config.secret_headers, headers),
        ):
            for name in sorted(names):
                # the keyring first; without one, a variable of that name in the app's own environment
                value = self.secrets.stored(secret_key(config.name, kind, name)) or os.environ.get(name)
                if not value:
                    raise McpConfigError(
                        f"The secret {name} of the MCP server '{config.name}' is not in the keyring "
                        f"(nor in the environment); enter it again in Settings → MCP or with "
                        f"`dataelan mcp add {config.name} ... --secret {name}=VALUE`."
                    )
                target[name] = value
        return ResolvedServer(config, env, headers)

    def has_secret(self, config: McpServerConfig, name: str) -> bool:
        """Whether a value for the secret ``name`` of ``config`` is stored (the UI shows that, not the value)."""
        kind = "env" if name in config.secret_env else "header"
        return self.secrets.stored(secret_key(config.name, kind, name)) is not None

    # -- writing -----------------------------------------------------------------------------

    def save(self, config: McpServerConfig, secrets: Mapping[str, str] | None = None) -> bool:
        """Create or replace the server named ``config.name``; ``secrets`` maps names listed in
        ``secret_env``/``secret_headers`` to new values (a secret left out keeps its stored value).
        Returns True when the server is new."""
        config = validate(config)
        secrets = {k: v for k, v in (secrets or {}).items() if v}
        listed = config.secret_env | config.secret_headers
        stray = sorted(set(secrets) - listed)
        if stray:
            raise McpConfigError(f"{stray[0]} is not one of the secrets of the MCP server '{config.name}'.")
        missing = [
            n
            for n in sorted(listed - set(secrets))
            if not self.has_secret(config, n) and not os.environ.get(n)
        ]
        if missing:
            raise McpConfigError(
                f"Give a value for the secret {missing[0]} of the MCP server '{config.name}'."
            )
        # the keyring first: a config that names a secret the keyring refused would not start
        self._store_secrets(config, secrets)

        def upsert(session: Session) -> tuple[bool, McpServerConfig | None]:
            row = _find(session, config.name)
            before = _view(row) if row is not None else None
            if row is None:
                row = McpServerRow(name=config.name)
                session.add(row)
            for column, value in _columns(config).items():
                setattr(row, column, value)
            return before is None, before

        created, before = self.db.call(upsert)
        if before is not None:
            self._forget_secrets(before, keep=config)
        self.bus.publish(Changes(mcp_servers=True))
        return created

    def set_enabled(self, name: str, enabled: bool) -> McpServerConfig:
        def switch(session: Session) -> McpServerConfig | None:
            row = _find(session, name)
            if row is not None:
                row.enabled = enabled
            return _view(row) if row is not None else None

        config = self.db.call(switch)
        if config is None:
            raise LookupError(f"There is no MCP server named '{name}' (see `dataelan mcp list`).")
        self.bus.publish(Changes(mcp_servers=True))
        return config

    def remove(self, name: str) -> bool:
        """Remove a server and its secrets; False when there was none of that name."""

        def remove(session: Session) -> McpServerConfig | None:
            row = _find(session, name)
            if row is None:
                return None
            row.deleted_at = utcnow()
            return _view(row)

        removed = self.db.call(remove)
        if removed is None:
            return False
        self._forget_secrets(removed)
        self.bus.publish(Changes(mcp_servers=True))
        return True

    def import_file(self, path: Path | str) -> ImportResult:
        """Add the servers of a Claude Desktop (or our own) config file. A server whose name is taken
        is skipped, not overwritten; a bad entry is a problem line; the good ones are added."""
        parsed = read_config_file(path)
        existing = {c.name.casefold() for c in self.list()}
        added, skipped, problems = [], [], list(parsed.problems)
        for server in parsed.servers:
            if server.config.name.casefold() in existing:
                skipped.append(server.config.name)
                continue
            try:
                self.save(server.config, server.secrets)
            except McpConfigError as err:
                problems.append(str(err))
                continue
            added.append(server.config.name)
            existing.add(server.config.name.casefold())
        return ImportResult(added, skipped, problems)

    # -- the keyring ---------------------------------------------------------------------------

    def _store_secrets(self, config: McpServerConfig, secrets: Mapping[str, str]) -> None:
        for name, value in secrets.items():
            kind = "env" if name in config.secret_env else "header"
            try:
                self.secrets.set(secret_key(config.name, kind, name), value)
            except NoKeyringError:
                raise McpConfigError(
                    f"No system keyring is available to keep {name} of the MCP server '{config.name}' safe "
                    "(install and unlock GNOME Keyring or KWallet, or use the macOS/Windows keychain); "
                    f"or set {name} in the environment the app is started from and save the server without it."
                ) from None

    def _forget_secrets(self, config: McpServerConfig, keep: McpServerConfig | None = None) -> None:
        """Delete the keyring entries ``config`` had that ``keep`` no longer lists."""
        for kind, names, kept in (
            ("env", config.secret_env, keep.secret_env if keep else frozenset()),
            ("header", config.secret_headers, keep.secret_headers if keep else frozenset()),
        ):
            for name in names - kept:
                self.secrets.delete(secret_key(config.name, kind, name))
