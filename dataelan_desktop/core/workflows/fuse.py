"""Fuse: several answers to one question merged into one by a chosen model, through the shipped
"Fuse answers" workflow (the person's edited copy of it when they changed it). The tester uses it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .store import SUFFIX, WorkflowStore, _default_folder

FUSE_KEY = "fuse-answers"


def fuse_definition(store: WorkflowStore) -> tuple[str, str | None, int]:
    """The fuse workflow's YAML, its id and version: the saved one, else the shipped file."""
    saved = store.builtin(FUSE_KEY)
    if saved is not None:
        return saved.yaml, saved.id, saved.version
    folder = store.builtin_folder or _default_folder()
    return (folder / f"{FUSE_KEY}{SUFFIX}").read_text(encoding="utf-8"), None, 1


def fuse_inputs(question: str, answers: Sequence[str], model: str) -> dict[str, str]:
    kept = [a for a in answers if a.strip()]
    if len(kept) < 2:
        raise ValueError("Fuse needs at least two finished answers.")
    if not model.strip():
        raise ValueError("Choose the model that fuses the answers.")
    return {"question": question, "answers": json.dumps(kept, ensure_ascii=False), "model": model.strip()}
