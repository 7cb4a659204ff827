"""The models folder: add a GGUF (copy or reference), scan a folder, remove, list.

Every file is inspected from its header first; a bad file is refused before anything is
saved. Split models (``name-00001-of-00003.gguf``) are one model, named after the set.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .. import paths
from ..changes import Changes
from ..db import Database
from ..db.tables import LocalModel, ModelProfile, utcnow
from ..providers.errors import ModelFileError
from .info import GGUFInfo, split_parts, validate_gguf

SPLIT = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$")


@dataclass(frozen=True)
class ScanResult:
    added: list[LocalModel]
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


class ModelLibrary:
    def __init__(self, db: Database, bus=None):
        self.db = db
        self.bus = bus

    def _changed(self) -> None:
        if self.bus is not None:
            self.bus.publish(Changes(local_models=True))

    def list(self) -> list[LocalModel]:
        return self.db.call(
            lambda s: list(
                s.scalars(select(LocalModel).where(LocalModel.deleted_at.is_(None)).order_by(LocalModel.name))
            )
        )

    def get(self, name: str) -> LocalModel | None:
        return next((m for m in self.list() if m.name == name), None)

    def add(
        self,
        path: Path | str,
        *,
        name: str | None = None,
        copy: bool = False,
        origin: str | None = None,
        sha256: str | None = None,
    ) -> LocalModel:
        """Inspect and register a GGUF. ``copy`` puts it (all parts) into the models folder."""
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
            folder = paths.models_dir()
            for part in parts:
                destination = folder / part.name
                if destination.exists() and destination.stat().st_size == part.stat().st_size:
                    continue
                partial = destination.with_suffix(destination.suffix + ".partial")
                shutil.copyfile(part, partial)  # never leave a half-copied file under the real name
                partial.replace(destination)
            target = folder / source.name
        row = self._save(name, target, info, parts, origin or ("copied" if copy else "referenced"), sha256)
        self._changed()
        return row

    def _save(
        self, name: str, path: Path, info: GGUFInfo, parts: list[Path], source: str, sha256: str | None = None
    ) -> LocalModel:
        def write(s) -> LocalModel:
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
            return row

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

    def remove(self, name: str, *, delete_file: bool = False) -> LocalModel:
        row = self.get(name)
        if row is None:
            raise LookupError(f"No local model named '{name}'. `dataelan models list local` shows them.")

        def forget(s) -> None:
            model = s.get(LocalModel, row.id)
            model.deleted_at = utcnow()
            model.name = f"{model.name}#deleted-{model.id[:8]}"  # frees the name for a new model

        self.db.call(forget)
        if delete_file and row.source in ("copied", "downloaded"):
            for part in (row.details or {}).get("parts", [Path(row.path).name]):
                (Path(row.path).parent / part).unlink(missing_ok=True)
        self._changed()
        return row

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
