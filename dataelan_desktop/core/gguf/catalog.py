"""Recommended small instruct models (resources/catalog.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..paths import resources_dir


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    repo_id: str
    filename: str
    size_bytes: int | None
    sha256: str | None
    memory_gb: float | None
    license: str
    description: str


def load_catalog() -> list[CatalogEntry]:
    data = json.loads((resources_dir() / "catalog.json").read_text(encoding="utf-8"))
    return [
        CatalogEntry(**{k: entry.get(k) for k in CatalogEntry.__dataclass_fields__})
        for entry in data["models"]
    ]


def find(entry_id: str) -> CatalogEntry:
    for entry in load_catalog():
        if entry.id == entry_id:
            return entry
    known = ", ".join(e.id for e in load_catalog())
    raise LookupError(f"No catalog model '{entry_id}'. Known: {known}.")
