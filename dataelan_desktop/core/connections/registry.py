"""From "provider:model" to a ready provider: built-ins, named endpoints, local GGUF."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db import Database
from ..db.tables import ProviderConfig
from ..network.client import NetworkClient, NetworkProvider, shared_client
from ..network.spec import DEFAULT_STALL_TIMEOUT, ProviderSpec
from ..providers.base import Provider
from ..providers.errors import ConfigurationError, ProviderError
from ..providers.types import ModelInfo
from ..secrets import SecretStore, default_store, env_var_for
from .kinds import ProviderKind
from .model_cache import ModelListCache

BUILTIN = {"openai": ProviderKind.OPENAI, "anthropic": ProviderKind.ANTHROPIC}
LOCAL = "local"


@dataclass(frozen=True)
class ProviderSettings:
    """A configured provider as saved (its key is in the keyring, not here)."""

    name: str
    kind: str
    base_url: str | None
    api_key_env: str | None
    enabled: bool
    options: dict[str, Any]

    @classmethod
    def of(cls, row: ProviderConfig) -> ProviderSettings:
        return cls(
            row.name, row.kind, row.base_url, row.api_key_env, bool(row.enabled), dict(row.options or {})
        )


@dataclass(frozen=True)
class ModelRef:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_ref(text: str) -> ModelRef:
    """``openai:gpt-4o-mini``, ``anthropic:claude-...``, ``local:PATH_OR_NAME``, ``NAME:ID``."""
    provider, sep, model = text.strip().partition(":")
    if not sep or not provider or not model:
        raise ConfigurationError(
            f"'{text}' is not a model. Write PROVIDER:MODEL, for example openai:gpt-4o-mini, "
            "anthropic:claude-3-5-haiku-latest or local:/path/to/model.gguf."
        )
    return ModelRef(provider.lower(), model)


def validate_provider_name(name: str) -> str:
    name = name.strip().lower()
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigurationError(
            f"'{name}' is not a usable provider name: use letters, digits, '-', '_' or '.'."
        )
    if name == LOCAL:
        raise ConfigurationError("'local' is reserved for GGUF models on this machine.")
    return name


class ProviderRegistry:
    """Builds providers on demand and keeps them for reuse (connections, loaded models)."""

    def __init__(
        self, db: Database, secrets: SecretStore | None = None, network: NetworkClient | None = None
    ):
        self.db = db
        self.secrets = secrets or default_store()
        self._providers: dict[str, Provider] = {}
        self._local: Provider | None = None
        #: every cloud provider's SDK runs in the app's one network process (see network/process.py)
        self.network = network or shared_client()
        #: seconds a stream may stay silent (a provider's options may say otherwise)
        self.stall_timeout = DEFAULT_STALL_TIMEOUT
        #: the cloud providers' lists as last fetched, beside the database (see model_cache.py)
        self.model_lists = ModelListCache(db.path.parent / "cache" / "models.json" if db.path else None)

    # -- configuration ---------------------------------------------------------

    def configs(self) -> list[ProviderSettings]:
        return self.db.call(
            lambda s: [
                ProviderSettings.of(row)
                for row in s.scalars(
                    select(ProviderConfig)
                    .where(ProviderConfig.deleted_at.is_(None))
                    .order_by(ProviderConfig.name)
                )
            ]
        )

    def config(self, name: str) -> ProviderSettings | None:
        return next((c for c in self.configs() if c.name == name), None)

    def provider_names(self) -> list[str]:
        """Every provider the user can pick from: built-ins with a key, named ones, local."""
        names = [n for n in BUILTIN if self.secrets.get(n, self._env_of(n)) or self.config(n)]
        names += [c.name for c in self.configs() if c.name not in names and c.enabled]
        return names + [LOCAL]

    def _env_of(self, name: str) -> str:
        cfg = self.config(name)
        return env_var_for(name, cfg.api_key_env if cfg else None)

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached providers after their configuration or key changed."""
        forgotten = list(self._providers.values()) if name is None else [self._providers.get(name)]
        if name is None:
            self._providers.clear()
        else:
            self._providers.pop(name, None)
        self.model_lists.forget(name)
        for provider in forgotten:  # close its connections in the network process
            if isinstance(provider, NetworkProvider):
                self.network.discard(provider.spec)

    # -- providers ---------------------------------------------------------------

    def get(self, name: str, *, warm: bool = True) -> Provider:
        """Provider ``name``, built on first use; ``warm`` makes it ready to stream first (starts the
        network process and imports the SDK there). Asking a cloud provider what it knows without
        sending (the context meter) passes ``warm=False``: an everyday start starts nothing."""
        name = name.lower()
        if name == LOCAL:
            return self.local()
        if name not in self._providers:
            provider = self._build(name)
            if warm:
                provider.warm_up()
            self._providers[name] = provider
        return self._providers[name]

    def warm_up(self, name: str) -> None:
        """Make provider ``name`` ready to stream (while the person types the first message); blocks."""
        self.get(name, warm=False).warm_up()

    def local(self) -> Provider:
        if self._local is None:
            from ..llamacpp.provider import LocalProvider

            self._local = LocalProvider(self.db)
        return self._local

    def _build(self, name: str) -> Provider:
        return NetworkProvider(self.spec(name), self.network)

    def spec(self, name: str) -> ProviderSpec:
        """Configuration, key and address of provider ``name``, resolved here (keyring, database)."""
        cfg = self.config(name)
        kind = ProviderKind(cfg.kind) if cfg else BUILTIN.get(name)
        if kind is None:
            known = ", ".join([*BUILTIN, *(c.name for c in self.configs()), LOCAL])
            raise ConfigurationError(
                f"Unknown provider '{name}'. Known: {known}. Add one with "
                f"`dataelan providers add {name} --base-url URL`."
            )
        key_env = self._env_of(name)
        api_key = self.secrets.get(name, key_env)
        base_url = cfg.base_url if cfg and cfg.base_url else None
        if kind in (ProviderKind.OPENAI, ProviderKind.ANTHROPIC) and not api_key:
            raise self._missing_key(name, key_env)
        if kind is ProviderKind.OPENAI:
            base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        elif kind is ProviderKind.ANTHROPIC:
            base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
        elif not base_url:
            raise ConfigurationError(f"Provider '{name}' has no base URL. Set one in Settings → Providers.")
        options = (cfg.options or {}) if cfg else {}
        stall = float(options.get("stall_timeout") or self.stall_timeout)
        return ProviderSpec(
            kind=str(kind), name=name, api_key=api_key, base_url=base_url, stall_timeout=stall
        )

    def _list_source(self, name: str) -> str:
        """What a cached list of ``name``'s models was fetched from: its kind and address (a key is
        checked here, so that a provider whose key is gone says so instead of showing old models)."""
        spec = self.spec(name)
        return f"{spec.kind} {spec.base_url or ''}"

    @staticmethod
    def _missing_key(name: str, env_var: str) -> ConfigurationError:
        return ConfigurationError(
            f"No API key for {name}. Run `dataelan keys set {name}` or set {env_var}.", provider=name
        )

    async def list_all_models(self, *, fresh: bool = False) -> tuple[list[ModelInfo], dict[str, str]]:
        """Every provider's models, asked concurrently; failures come back per provider. A cloud
        provider's list fetched in the last day comes from the cache (no request, no network process)
        unless ``fresh``."""
        # get_event_loop, not to_thread: qasync may step this task outside run_forever
        loop = asyncio.get_event_loop()
        names = await loop.run_in_executor(None, self.provider_names)  # keyring and database look-ups

        async def one(name: str) -> list[ModelInfo]:
            if name == LOCAL:
                return await (await loop.run_in_executor(None, self.local)).list_models()
            source = await loop.run_in_executor(None, self._list_source, name)
            cached = None if fresh else await loop.run_in_executor(None, self.model_lists.get, name, source)
            if cached is not None:
                return cached
            provider = await loop.run_in_executor(None, self.get, name)  # may start the network process
            models = await provider.list_models()
            await loop.run_in_executor(None, self.model_lists.put, name, source, models)
            return models

        results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
        models: list[ModelInfo] = []
        errors: dict[str, str] = {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, ProviderError):
                errors[name] = str(result)
            elif isinstance(result, BaseException):
                errors[name] = f"{type(result).__name__}: {result}"
            else:
                models.extend(result)
        return models, errors

    async def aclose(self) -> None:
        for provider in [*self._providers.values(), *([self._local] if self._local else [])]:
            await provider.aclose()
        self._providers.clear()
        self._local = None
