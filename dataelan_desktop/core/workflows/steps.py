"""What one step computes from its values, apart from running it: a tool step's arguments, a
condition's branch, a JSON reply checked against its schema, a map's items. The engine (engine.py)
schedules, retries and records; these only compute."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .definition import Step, WorkflowError
from .expr import parse
from .render import REFERENCE, render, split_path
from .values import Item, Scope, parse_json_text, show

MAX_ITEMS = 10_000
MAX_FILE_BYTES = 2_000_000


class StepFailure(Exception):
    """One attempt failed; ``retryable`` says whether another try could do better."""

    def __init__(self, message: str, retryable: bool = True, measures: dict[str, Any] | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.measures = measures or {}


def tool_arguments(value: Any, scope: Scope) -> Any:
    """A tool step's arguments with references filled in; a string that is one reference alone
    ("{{extract.json.people}}") passes its value as it is (a list stays a list)."""
    if isinstance(value, dict):
        return {k: tool_arguments(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [tool_arguments(v, scope) for v in value]
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole is not None and whole.group(2) is None:
            return scope.resolve(split_path(whole.group(1)))
        return render(value, scope)
    return value


def choose_branch(step: Step, scope: Scope) -> str:
    for branch in step.branches:
        if parse(branch.expr).holds(scope.resolve):
            return render(branch.then, scope)
    return render(step.otherwise, scope) if step.otherwise else ""


def schema_instruction(schema: dict[str, Any]) -> str:
    return "Reply with JSON only (no prose, no code fence) that matches this JSON Schema:\n" + json.dumps(
        schema, ensure_ascii=False
    )


def check_output(text: str, schema: dict[str, Any], measures: dict[str, Any]) -> Any:
    import jsonschema

    try:
        data = parse_json_text(text.strip())
    except ValueError as exc:
        raise StepFailure(f"the reply is not JSON ({exc})", measures={**measures, "output": text}) from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f" at {where}" if where else ""
        raise StepFailure(f"the reply does not match the output schema{at}: {error.message}",
                          measures={**measures, "output": text})  # fmt: skip
    return data


def split_items(text: str, how: str) -> list[Item]:
    """A map's items: lines, a JSON array, or the files of a folder (sorted by name)."""
    if how == "files":
        folder = Path(text.strip()).expanduser()
        if not folder.is_dir():
            raise WorkflowError(f"there is no folder {folder} to map over")
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        items = []
        for index, path in enumerate(files[:MAX_ITEMS]):
            if path.stat().st_size > MAX_FILE_BYTES:
                raise WorkflowError(f"{path.name} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
            items.append(Item(index, path.read_text(encoding="utf-8", errors="replace"), name=path.name))
        return items
    if how in ("json", "auto"):
        try:
            data = parse_json_text(text)
        except ValueError:
            data = None
        if isinstance(data, list):
            return [
                Item(i, show(v), data=v if isinstance(v, dict | list) else None)
                for i, v in enumerate(data[:MAX_ITEMS])
            ]
        if how == "json":
            raise WorkflowError("the map's list is not a JSON array")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [Item(i, line) for i, line in enumerate(lines[:MAX_ITEMS])]
