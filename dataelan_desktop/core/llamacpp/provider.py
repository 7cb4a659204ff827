"""Local GGUF models through llama-cpp-python, each in its own model process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..db import Database
from ..db.tables import LocalModel, ModelProfile
from ..providers.base import Provider
from ..providers.errors import ModelFileError
from ..providers.types import ChatMessage, ChatRequest, ModelInfo, StreamEvent

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 4096
DEFAULT_IDLE_UNLOAD = 15 * 60.0  # seconds; a loaded model holds its memory until then
PROCESS_SETTINGS = ("context_length", "gpu_layers", "threads", "batch_size", "seed", "chat_template")
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user wrote after "local:"
    path: Path
    settings: dict[str, Any]
    info: Any = None  # the file's GGUFInfo, once its header was checked


def _same_file_key(path: str) -> str:
    return str(Path(path).expanduser().resolve())


class LocalProvider(Provider):
    name = "local"

    def __init__(self, db: Database | None, idle_unload_seconds: float = DEFAULT_IDLE_UNLOAD):
        self.db = db
        self.idle_unload_seconds = idle_unload_seconds
        self._clients: dict[tuple[str, tuple], Any] = {}  # (path, process settings) → ModelClient
        self._idle_timers: dict[tuple[str, tuple], asyncio.TimerHandle] = {}
        self._starting: dict[tuple[str, tuple], asyncio.Lock] = {}
        #: files whose header was checked: path → ((size, modified), GGUFInfo)
        self._checked_files: dict[str, tuple[tuple[int, int] | None, Any]] = {}

    # -- resolving names and settings ------------------------------------------------

    @staticmethod
    def _finder(model: str) -> Callable[[Any], tuple[str | None, dict[str, Any]]]:
        """The database lookup of ``model``: its file's path (if it is in the library) and its profile."""

        def find(s) -> tuple[str | None, dict[str, Any]]:
            found = s.scalars(
                select(LocalModel).where(LocalModel.name == model, LocalModel.deleted_at.is_(None))
            ).first()
            prof = s.scalars(select(ModelProfile).where(ModelProfile.model_ref == f"local:{model}")).first()
            return (found.path if found is not None else None), dict(prof.settings or {}) if prof else {}

        return find

    @staticmethod
    def _resolved(model: str, found: str | None, profile: dict[str, Any]) -> ResolvedModel:
        path = Path(found) if found is not None else Path(model).expanduser()
        if found is None and not path.exists():
            raise ModelFileError(
                f"No local model named '{model}' and no file at {path}. Add one with `dataelan models add PATH`, "
                "or give the path of a .gguf file."
            )
        return ResolvedModel(name=model, path=path, settings=profile)

    def resolve(self, model: str) -> ResolvedModel:
        found, profile = self.db.call(self._finder(model)) if self.db is not None else (None, {})
        return self._resolved(model, found, profile)

    def canonical_refs(self, refs: list[str]) -> list[str]:
        """``refs`` with each ``local:/path/to/file.gguf`` that is a library model's file written as
        ``local:<its name>``, each once: one file is one entry in a picker, not two."""
        if self.db is None:
            return list(dict.fromkeys(refs))

        def names_by_file(s) -> dict[str, str]:
            rows = s.scalars(select(LocalModel).where(LocalModel.deleted_at.is_(None)))
            return {_same_file_key(r.path): r.name for r in rows}

        by_file = self.db.call(names_by_file)
        result = []
        for ref in refs:
            provider, _, model = ref.partition(":")
            if provider == "local" and model.endswith(".gguf"):
                ref = f"local:{by_file.get(_same_file_key(model), model)}"
            result.append(ref)
        return list(dict.fromkeys(result))

    @staticmethod
    def _client_key(resolved: ResolvedModel) -> tuple[str, tuple]:
        process_settings = tuple(
            sorted(
                (k, resolved.settings.get(k))
                for k in PROCESS_SETTINGS
                if resolved.settings.get(k) is not None
            )
        )
        return str(resolved.path.resolve()), process_settings

    # -- loading ---------------------------------------------------------------------

    async def _prepare(self, model: str) -> ResolvedModel:
        """The model's file and settings, its header checked, before a load or a reply.

        This is on the way to every reply's first token, so it waits on nothing it need not: one
        trip to the database's thread for the settings (none without a database), and the file's
        header (tens of milliseconds with a large vocabulary) read only when the file is new or
        changed; a stat tells."""
        from ..gguf.info import validate_gguf

        found, profile = await self.db.run(self._finder(model)) if self.db is not None else (None, {})
        resolved = self._resolved(model, found, profile)
        try:
            stat = resolved.path.stat()
            signature: tuple[int, int] | None = (stat.st_size, stat.st_mtime_ns)
        except OSError:  # gone: the check below says so
            signature = None
        key = str(resolved.path)
        known = self._checked_files.get(key)
        if signature is None or known is None or known[0] != signature:
            known = (signature, await asyncio.to_thread(validate_gguf, resolved.path))
            self._checked_files[key] = known
        return replace(resolved, info=known[1])

    async def load(self, model: str, progress: Callable[[str], None] | None = None):
        """Load (or reuse) the model's process; validates the file from its header first."""
        if progress:
            progress(f"Checking {Path(model).name}…")
        return await self._load(await self._prepare(model), progress)

    async def _load(self, resolved: ResolvedModel, progress: Callable[[str], None] | None = None):
        """Reuse or start the process for a prepared model (its header checked)."""
        from .client import ModelClient

        if not resolved.settings.get("context_length"):
            # the model's own context, capped: a 128k KV cache would not fit most machines
            context = resolved.info.context_length or DEFAULT_CONTEXT
            resolved = replace(
                resolved, settings={**resolved.settings, "context_length": min(context, DEFAULT_CONTEXT)}
            )
        key = self._client_key(resolved)
        lock = self._starting.setdefault(key, asyncio.Lock())
        async with lock:
            client = self._clients.get(key)
            if client is not None and not client.alive:
                await client.astop()  # it crashed: start afresh
                client = None
            if client is None:
                client = ModelClient(
                    resolved.path,
                    {k: resolved.settings.get(k) for k in PROCESS_SETTINGS},
                    label=resolved.path.name,
                )
                client.key = key
                await client.load(progress)
                self._clients[key] = client
        self._touch(key)
        return client

    async def unload(self, model: str | None = None) -> int:
        """End the process(es) of ``model`` (or all); returns how many were ended."""
        keys = list(self._clients)
        if model is not None:
            resolved = await asyncio.to_thread(self.resolve, model)
            path = str(resolved.path.resolve())
            keys = [k for k in keys if k[0] == path]
        for key in keys:
            timer = self._idle_timers.pop(key, None)
            if timer:
                timer.cancel()
            await self._clients.pop(key).astop()
        return len(keys)

    def loaded_models(self) -> list[dict[str, Any]]:
        return [
            {"path": key[0], "pid": client.pid, "alive": client.alive, "n_ctx": client.n_ctx}
            for key, client in self._clients.items()
        ]

    def _touch(self, key: tuple[str, tuple]) -> None:
        """(Re)arm the idle-unload timer."""
        timer = self._idle_timers.pop(key, None)
        if timer:
            timer.cancel()
        if self.idle_unload_seconds and self.idle_unload_seconds > 0:
            loop = asyncio.get_event_loop()
            self._idle_timers[key] = loop.call_later(
                self.idle_unload_seconds, lambda: asyncio.ensure_future(self._unload_key(key))
            )

    async def _unload_key(self, key: tuple[str, tuple]) -> None:
        client = self._clients.get(key)
        if client is not None and not client.busy:  # (a reply in flight keeps it)
            self._clients.pop(key, None)
            self._idle_timers.pop(key, None)
            log.info("unloading idle model %s", key[0])
            await client.astop()

    # -- the interface ---------------------------------------------------------------

    @staticmethod
    def _messages(request: ChatRequest, settings: dict[str, Any]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        system = request.system or settings.get("system_prompt")
        if system:
            messages.append({"role": "system", "content": system})
        return messages + [_plain(m) for m in request.messages]

    async def _loaded(self, model: str) -> tuple[ResolvedModel, Any]:
        """The model's settings, and its model process if one is running (None if not)."""
        resolved = await asyncio.to_thread(self.resolve, model)
        for key, client in self._clients.items():
            if key[0] == str(resolved.path.resolve()) and client.alive:
                return resolved, client
        return resolved, None

    async def count_tokens(self, request: ChatRequest, *, load: bool = False) -> int | None:
        """Counted by llama.cpp in the model process (the model's tokenizer and chat template): with
        ``load`` the model is loaded for it, else only a model already loaded counts."""
        if load:
            await self.load(request.model)
        resolved, client = await self._loaded(request.model)
        if client is None or (client.busy and not load):
            return None  # (a meter does not wait behind a reply being generated: it estimates meanwhile)
        return await client.count(self._messages(request, resolved.settings))

    async def context_length(self, model: str) -> int | None:
        """The loaded process's context; before loading, the one it would get (the model's setting, else
        the GGUF's own context capped as :meth:`load` caps it)."""
        from ..gguf.info import validate_gguf

        resolved, client = await self._loaded(model)
        if client is not None and client.n_ctx:
            return client.n_ctx
        if resolved.settings.get("context_length"):
            return int(resolved.settings["context_length"])
        info = await asyncio.to_thread(validate_gguf, resolved.path)
        return min(info.context_length or DEFAULT_CONTEXT, DEFAULT_CONTEXT)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        resolved = await self._prepare(request.model)
        settings = resolved.settings
        client = await self._load(resolved)
        messages = self._messages(request, settings)
        tools = [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in request.tools
        ]
        p = request.params
        params: dict[str, Any] = {k: settings.get(k) for k in SAMPLING if settings.get(k) is not None}
        if p.temperature is not None:
            params["temperature"] = p.temperature
        if p.top_p is not None:
            params["top_p"] = p.top_p
        params["max_tokens"] = p.max_tokens or settings.get("max_tokens")
        params["stop"] = list(p.stop)
        params["seed"] = p.seed if p.seed is not None else settings.get("seed")
        if p.json_schema:
            params["json_schema"] = p.json_schema
        try:  # (closed early, the generation is stopped before this returns)
            generating = client.generate(request.model, messages, params, tools, request.tool_choice)
            async with aclosing(generating) as events:
                async for event in events:
                    yield event
        finally:
            self._touch(client.key)

    async def list_models(self) -> list[ModelInfo]:
        if self.db is None:
            return []

        def rows(s):
            return list(
                s.scalars(select(LocalModel).where(LocalModel.deleted_at.is_(None)).order_by(LocalModel.name))
            )

        return [
            ModelInfo(
                id=r.name, provider=self.name, display_name=Path(r.path).name, context_length=r.context_length
            )
            for r in await self.db.run(rows)
        ]

    async def aclose(self) -> None:
        await self.unload()


def _plain(m: ChatMessage) -> dict[str, Any]:
    """A message as plain values for the model process (see ``llamacpp/tools.py`` for the shape)."""
    entry: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        entry["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]
    if m.role == "tool":
        entry.update(tool_call_id=m.tool_call_id, name=m.name, is_error=m.is_error)
    return entry
