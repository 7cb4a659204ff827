"""Adding, changing and removing configured providers (keys go to the keyring, never here)."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select

from ..db import Database
from ..db.tables import ProviderConfig, ProviderKind, utcnow
from ..providers.errors import ConfigurationError
from .registry import validate_provider_name


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
    """Create or update a provider; returns True when it was new."""
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
            kind,
            base_url,
            api_key_env or None,
            None,
            True,
        )
        return created

    return db.call(upsert)


def remove_provider(db: Database, name: str) -> bool:
    def remove(session) -> bool:
        row = session.scalars(select(ProviderConfig).where(ProviderConfig.name == name.lower())).first()
        if row is None or row.deleted_at is not None:
            return False
        row.deleted_at = utcnow()
        return True

    return db.call(remove)
