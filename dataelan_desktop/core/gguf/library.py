"""The models folder: add a GGUF (copy or reference), scan a folder, remove, list.

The one writer of ``local_models`` and ``model_profiles``; reads hand out plain views.

Every file is inspected from its header first; a bad file is refused before anything is
saved. Split models (``name-00001-of-00003.gguf``) are one model, named after the set.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .. import paths
from ..changes import Changes
from ..db import Database
from ..db.tables import LocalModel, ModelProfile, utcnow
from ..providers.errors import ModelFileError
from .info import GGUFInfo, split_parts, validate_gguf

SPLIT = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$")


@dataclass(frozen=True)
class LocalModelView:
    """A GGUF model known to the app, as plain data."""

    id: str
    name: str
    path: str  # the first part for split models
    size_bytes: int
    sha256: str | None
    architecture: str | None
    quantization: str | None
    parameter_count: int | None
    context_length: int | None
    has_chat_template: bool
    source: str  # referenced | copied | downloaded
    details: dict[str, Any]

    @classmethod
    def of(cls, row: LocalModel) -> LocalModelView:
        return cls(row.id, row.name, row.path, row.size_bytes or 0, row.sha256, row.architecture, row.quantization,
                   row.parameter_count, row.context_length, bool(row.has_chat_template), row.source,
                   dict(row.details or {}))  # fmt: skip


@dataclass(frozen=True)
class ScanResult:
    added: list[LocalModelView]
    refused: dict[str, str]  # path → why
    already_known: list[str]


def default_name(path: Path) -> str:
    m = SPLIT.match(path.name)
    stem = m.group(1) if m else path.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-").lower() or "model"


def _check_parts(first: Path) -> list[Path]:
    parts = split_parts(first)
    missing = [p.name for p in parts if not p.exists()]
    if missing:
        raise ModelFileError(f"{first.name} is part of a split model, but {', '.join(missing)} is missing.")
    return parts


COPYING = ".copying-"  # a copy in progress: <final name>.copying-<pid>; never a name a model has
STALE_COPY_SECONDS = 24 * 3600
_copying: set[Path] = set()  # copies this process is making now
_copying_lock = threading.Lock()


def _key(path: Path) -> str:
    return str(path.expanduser().resolve())


def model_files(row: LocalModelView) -> list[Path]:
    """Every file a model uses (all parts of a split model)."""
    folder = Path(row.path).parent
    return [folder / part for part in (row.details or {}).get("parts") or [Path(row.path).name]]


def files_in_use(rows: list[LocalModelView]) -> set[str]:
    return {_key(p) for row in rows for p in model_files(row)}


def _free_names(parts: list[Path], folder: Path) -> list[Path]:
    """Destinations for ``parts`` that do not exist yet: ``model.gguf``, else ``model-2.gguf``, ... (split
    parts keep their ``-0000i-of-0000n`` ending, which llama.cpp uses to find the other parts)."""
    for n in range(1, 10_000):
        names = []
        for part in parts:
            m = SPLIT.match(part.name)
            stem, tail = (m.group(1), part.name[len(m.group(1)) :]) if m else (part.stem, part.suffix)
            names.append(folder / (f"{stem}{tail}" if n == 1 else f"{stem}-{n}{tail}"))
        if not any(p.exists() or any(folder.glob(glob.escape(p.name) + COPYING + "*")) for p in names):
            return names
    raise ValueError(f"Too many models named like {parts[0].name} in {folder}.")


def copy_into_library(parts: list[Path], folder: Path) -> list[Path]:
    """Copy every part, each under a temporary name first (private from the first byte), then renamed:
    a copy cut short (a kill, a full disk) never sits under a model's name, and is cleaned up later."""
    with _copying_lock:  # two copies of files with one name (from two windows) must not pick the same names
        destinations = _free_names(parts, folder)
        partials = [d.with_name(f"{d.name}{COPYING}{os.getpid()}") for d in destinations]
        for partial in partials:
            os.close(paths.create_private(partial, exclusive=True))
            _copying.add(partial)
    done: list[Path] = []
    try:
        for part, destination, partial in zip(parts, destinations, partials, strict=True):
            with open(part, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
            os.replace(partial, destination)
            done.append(destination)
    except BaseException:
        for path in [*done, *partials]:  # all parts or none
            path.unlink(missing_ok=True)
        raise
    finally:
        with _copying_lock:
            _copying.difference_update(partials)
    return destinations


def remove_stale_copies(folder: Path) -> list[Path]:
    """Delete copies left by a process that was killed mid-copy (its pid is gone, or a day has passed)."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for partial in folder.glob(f"*{COPYING}*"):
        pid_text = partial.name.rsplit(COPYING, 1)[-1]
        try:
            alive = pid_text.isdigit() and _pid_alive(int(pid_text))
            fresh = time.time() - partial.stat().st_mtime < STALE_COPY_SECONDS
        except OSError:
            continue
        with _copying_lock:
            ours = partial in _copying
        if not ours and not (alive and fresh):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # in progress here only if listed in _copying (checked by the caller)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class ModelLibrary:
    def __init__(self, db: Database, bus=None):
        self.db = db
        self.bus = bus

    def _changed(self) -> None:
        if self.bus is not None:
            self.bus.publish(Changes(local_models=True))

    def list(self) -> list[LocalModelView]:
        return self.db.call(
            lambda s: [
                LocalModelView.of(row)
                for row in s.scalars(
                    select(LocalModel).where(LocalModel.deleted_at.is_(None)).order_by(LocalModel.name)
                )
            ]
        )

    def get(self, name: str) -> LocalModelView | None:
        return next((m for m in self.list() if m.name == name), None)

    def add(
        self,
        path: Path | str,
        *,
        name: str | None = None,
        copy: bool = False,
        origin: str | None = None,
        sha256: str | None = None,
    ) -> LocalModelView:
        """Inspect and register a GGUF. ``copy`` puts it (all parts) into the models folder, under a name
        no other file there has (two models called ``model.gguf`` never share or overwrite one file)."""
        if copy:
            remove_stale_copies(paths.models_dir())
        source = Path(path).expanduser().resolve()
        info = validate_gguf(source)
        parts = _check_parts(source) if info.split_count > 1 or SPLIT.match(source.name) else [source]
        name = (name or default_name(source)).strip()
        if not name:
            raise ValueError("A model needs a name.")
        existing = self.get(name)
        if existing is not None:
            if Path(existing.path).resolve() == source:
                return existing
            raise ValueError(f"A model named '{name}' already exists; choose another name with --name.")
        target = source
        if copy:
            copied = copy_into_library(parts, paths.models_dir())
            target, parts = copied[0], copied
        row = self._save(name, target, info, parts, origin or ("copied" if copy else "referenced"), sha256)
        self._changed()
        return row

    def _save(
        self, name: str, path: Path, info: GGUFInfo, parts: list[Path], source: str, sha256: str | None = None
    ) -> LocalModelView:
        def write(s) -> LocalModelView:
            row = s.scalars(select(LocalModel).where(LocalModel.name == name)).first()
            if row is None:
                row = LocalModel(name=name, path=str(path))
                s.add(row)
            row.path, row.deleted_at, row.source = str(path), None, source
            row.size_bytes = sum(p.stat().st_size for p in parts)
            row.sha256 = sha256
            row.architecture, row.quantization = info.architecture, info.quantization
            row.parameter_count, row.context_length = info.parameter_count, info.context_length
            row.has_chat_template = info.has_chat_template
            row.details = {
                "parts": [p.name for p in parts],
                "embedding_length": info.embedding_length,
                "block_count": info.block_count,
                "file_type": info.file_type,
                "display_name": info.name,
            }
            s.flush()
            return LocalModelView.of(row)

        return self.db.call(write)

    def scan(self, folder: Path | str) -> ScanResult:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder.")
        added, refused, known = [], {}, []
        known_paths = {Path(m.path).resolve() for m in self.list()}
        for path in sorted(folder.rglob("*.gguf")):
            m = SPLIT.match(path.name)
            if m and int(m.group(2)) != 1:
                continue  # later parts belong to their first part
            if path.resolve() in known_paths:
                known.append(str(path))
                continue
            try:
                name = default_name(path)
                if self.get(name) is not None:
                    name = f"{name}-{len(self.list()) + 1}"
                added.append(self.add(path, name=name))
            except (ModelFileError, ValueError) as error:
                refused[str(path)] = str(error)
        return ScanResult(added, refused, known)

    def remove(self, name: str, *, delete_file: bool = False) -> LocalModelView:
        row = self.get(name)
        if row is None:
            raise LookupError(f"No local model named '{name}'. `dataelan models list local` shows them.")

        def forget(s) -> None:
            model = s.get(LocalModel, row.id)
            model.deleted_at = utcnow()
            model.name = f"{model.name}#deleted-{model.id[:8]}"  # frees the name for a new model

        self.db.call(forget)
        if delete_file and row.source in ("copied", "downloaded"):
            in_use = files_in_use(self.list())  # another model may use the same file: it stays
            for part in model_files(row):
                if _key(part) not in in_use:
                    part.unlink(missing_ok=True)
        self._changed()
        return row

    def users_of_files(self, row: LocalModelView) -> list[str]:
        """Other live models that use one of ``row``'s files (deleting it would break them)."""
        mine = {_key(p) for p in model_files(row)}
        return [m.name for m in self.list() if m.id != row.id and mine & {_key(p) for p in model_files(m)}]

    # -- per-model settings ------------------------------------------------------------

    def settings(self, name: str) -> dict:
        ref = f"local:{name}"
        return self.db.call(
            lambda s: dict(
                (
                    s.scalars(select(ModelProfile).where(ModelProfile.model_ref == ref)).first()
                    or ModelProfile(settings={})
                ).settings
                or {}
            )
        )

    def update_settings(self, name: str, **values) -> dict:
        allowed = {
            "context_length", "gpu_layers", "threads", "batch_size", "temperature", "top_p", "top_k", "min_p",
            "repeat_penalty", "seed", "max_tokens", "chat_template", "system_prompt",
        }  # fmt: skip
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"Unknown model settings: {', '.join(sorted(unknown))}")
        if self.get(name) is None:
            raise LookupError(f"No local model named '{name}'.")
        ref = f"local:{name}"

        def write(s) -> dict:
            profile = s.scalars(select(ModelProfile).where(ModelProfile.model_ref == ref)).first()
            if profile is None:
                profile = ModelProfile(model_ref=ref, settings={})
                s.add(profile)
            merged = {**(profile.settings or {}), **{k: v for k, v in values.items() if v is not None}}
            profile.settings = merged
            return merged

        merged = self.db.call(write)
        self._changed()
        return merged
