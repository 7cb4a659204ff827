"""Configured providers: the one writer of ``provider_configs`` (keys go to the keyring, never here).

Every save or removal forgets the registry's cached provider and publishes
``Changes(providers=True)``, whether the settings page, a found local server or the CLI made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sqlalchemy import select

from ..changes import ChangeBus, Changes
from ..db import Database
from ..db.tables import ProviderConfig, utcnow
from ..providers.errors import ConfigurationError
from .kinds import ProviderKind
from .registry import BUILTIN, ProviderRegistry, validate_provider_name

if TYPE_CHECKING:
    from ..secrets import SecretStore
    from .discovery import FoundServer


def normalise_base_url(url: str) -> str:
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(f"'{url}' is not an http(s) URL, e.g. http://127.0.0.1:11434/v1")
    # a URL is stored, listed and logged: credentials written into it would be too (keys go to the keyring)
    from urllib.parse import parse_qsl

    secret_names = {"key", "api_key", "apikey", "api-key", "token", "access_token", "password", "secret"}
    in_query = any(k.lower() in secret_names for k, _ in parse_qsl(parsed.query, keep_blank_values=True))
    if "@" in parsed.netloc or in_query:
        raise ConfigurationError(
            f"The URL for {parsed.hostname or 'the server'} has credentials written into it; they would be stored "
            "and shown in plain text. Give the URL without them, and the key with `dataelan keys set NAME` or "
            "--api-key-env VAR."
        )
    return url.rstrip("/")


def save_provider(
    db: Database,
    name: str,
    *,
    base_url: str | None,
    kind: str = ProviderKind.OPENAI_COMPATIBLE,
    api_key_env: str | None = None,
) -> bool:
    """Create or update a provider's row; returns True when it was new. The row alone, for set-up code
    that runs before anything listens (tests, benchmarks): the app saves through :class:`ConnectionStore`,
    which also tells the registry and the views."""
    name = validate_provider_name(name)
    kind = ProviderKind(kind)
    if base_url:
        base_url = normalise_base_url(base_url)
    elif kind is ProviderKind.OPENAI_COMPATIBLE:
        raise ConfigurationError(
            "An OpenAI-compatible provider needs a base URL, e.g. http://127.0.0.1:11434/v1"
        )

    def upsert(session) -> bool:
        row = session.scalars(select(ProviderConfig).where(ProviderConfig.name == name)).first()
        created = row is None or row.deleted_at is not None
        if row is None:
            row = ProviderConfig(name=name)
            session.add(row)
        row.kind, row.base_url, row.api_key_env, row.deleted_at, row.enabled = (
            kind, base_url, api_key_env or None, None, True,
        )  # fmt: skip
        return created

    return db.call(upsert)


@dataclass(frozen=True)
class ProviderForm:
    """What a person asked to save: the row's fields and, if typed, a new key."""

    name: str
    kind: str = ProviderKind.OPENAI_COMPATIBLE
    base_url: str | None = None
    key_env: str | None = None
    key: str | None = None


class ConnectionStore:
    """Adds, changes and removes configured providers, and tells the app."""

    def __init__(self, db: Database, bus: ChangeBus, registry: ProviderRegistry, secrets: SecretStore):
        self.db = db
        self.bus = bus
        self.registry = registry
        self.secrets = secrets

    def _changed(self, name: str | None) -> None:
        self.registry.invalidate(name)  # the next request builds the provider from what was saved
        self.bus.publish(Changes(providers=True))

    def save(
        self,
        name: str,
        *,
        base_url: str | None,
        kind: str = ProviderKind.OPENAI_COMPATIBLE,
        api_key_env: str | None = None,
    ) -> bool:
        """Create or update a provider; returns True when it was new."""
        created = save_provider(self.db, name, base_url=base_url, kind=kind, api_key_env=api_key_env)
        self._changed(validate_provider_name(name))
        return created

    def save_form(self, form: ProviderForm) -> None:
        """A provider as the settings page saves it: its row (a built-in left at its defaults needs
        none), then a typed key into the keyring (which may wait for an unlock prompt)."""
        name = validate_provider_name(form.name)
        saved = False
        try:
            if name not in BUILTIN or form.base_url or form.key_env:
                save_provider(self.db, name, base_url=form.base_url, kind=form.kind, api_key_env=form.key_env)
                saved = True
            if form.key:
                self.secrets.set(name, form.key, form.key_env or None)
                saved = True
        finally:
            if saved:  # a row saved before the keyring refused the key is still news
                self._changed(name)

    def remove(self, name: str, *, forget_key: bool = False) -> bool:
        """Remove a provider (and with ``forget_key`` its key); False when there was none to remove."""
        name = name.strip().lower()

        def remove(session) -> bool:
            row = session.scalars(select(ProviderConfig).where(ProviderConfig.name == name)).first()
            if row is None or row.deleted_at is not None:
                return False
            row.deleted_at = utcnow()
            return True

        removed = self.db.call(remove)
        try:
            if forget_key:
                self.secrets.delete(name)
        finally:
            self._changed(name)
        return removed

    def add_found(self, servers: Iterable[FoundServer]) -> list[str]:
        """Local servers found running, saved as providers unless one of that name exists; returns
        the names added."""
        added = []
        for server in servers:
            if self.registry.config(server.name) is None:
                save_provider(self.db, server.name, base_url=server.base_url)
                added.append(server.name)
        self._changed(None)
        return added
