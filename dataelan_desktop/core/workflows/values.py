"""What a {{reference}} or an expression's name means during a run: inputs, steps' outputs, the item.

``inputs.topic``; ``draft`` or ``draft.text`` (a step's text); ``extract.json.title`` (its output
read as JSON, a ```json fence allowed); ``draft.status``; inside a map, ``item`` (the item's
text), ``item.index`` (from 0), ``item.number`` (from 1), ``item.name`` (a file's name) and ``item.field`` for a JSON item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .definition import WorkflowError
from .expr import Path

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def parse_json_text(text: str) -> Any:
    """A model's JSON reply: the text itself, or the inside of one ```json fence around it."""
    fenced = _FENCE.match(text)
    # strict=False: a raw line break or tab inside a string, a common slip of small models, is read
    return json.loads(fenced.group(1) if fenced else text, strict=False)


@dataclass(frozen=True)
class StepValue:
    """A finished step's output as later steps read it."""

    text: str
    status: str = "complete"
    data: Any = None  # a JSON value when the step made one (a map's list, a schema-checked reply)

    def json(self) -> Any:
        if self.data is not None:
            return self.data
        try:
            return parse_json_text(self.text)
        except ValueError as exc:
            raise LookupError(f"its output is not JSON ({exc})") from None


@dataclass(frozen=True)
class Item:
    """One item of a map."""

    index: int
    text: str
    name: str | None = None  # a file's name when mapping over a folder
    data: Any = None  # the item itself when it came from a JSON array


def show(value: Any) -> str:
    """A value as text in a prompt."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def dig(value: Any, path: Path, shown: str) -> Any:
    for part in path:
        if isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            raise LookupError(f"{shown} has no field {part!r}")
    return value


@dataclass
class Scope:
    """The values a step can see: the run's inputs, finished steps, and the map item if any."""

    inputs: Mapping[str, Any]
    steps: Mapping[str, StepValue]
    item: Item | None = None

    def resolve(self, path: Path) -> Any:
        shown = ".".join(str(p) for p in path)
        head, rest = path[0], path[1:]
        if head == "inputs":
            if not rest or str(rest[0]) not in self.inputs:
                raise LookupError(f"{shown}: no such input")
            return dig(self.inputs[str(rest[0])], rest[1:], shown)
        if head == "item" and self.item is not None:
            return self._item(rest, shown)
        if head not in self.steps:
            raise LookupError(f"{shown}: step '{head}' has no output yet")
        value = self.steps[str(head)]
        if not rest or rest == ("text",):
            return value.text
        if rest[0] == "status":
            return value.status
        try:
            data = value.json()
        except LookupError as exc:
            raise LookupError(f"{shown}: {exc}") from None
        return dig(data, rest[1:] if rest[0] == "json" else rest, shown)

    def _item(self, rest: Path, shown: str) -> Any:
        item = self.item
        assert item is not None
        if not rest or rest == ("text",):
            return item.text
        if rest == ("index",):
            return item.index
        if rest == ("number",):  # counted from 1, for people
            return item.index + 1
        if rest == ("name",) and item.name is not None:
            return item.name
        data = item.data
        if data is None:
            try:
                data = parse_json_text(item.text)
            except ValueError:
                raise LookupError(f"{shown}: the item is not JSON") from None
        return dig(data, rest[1:] if rest[0] == "json" else rest, shown)


def missing(step_id: str, exc: LookupError) -> WorkflowError:
    return WorkflowError(f"Step '{step_id}': {exc.args[0] if exc.args else exc}", step=step_id)
