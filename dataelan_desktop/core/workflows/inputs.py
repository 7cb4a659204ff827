"""A run's input values, checked against the workflow's typed inputs before anything runs."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .definition import InputSpec, Workflow, WorkflowError

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def _bad(spec: InputSpec, value: Any, wanted: str) -> WorkflowError:
    shown = value if not isinstance(value, str) or len(value) < 40 else value[:37] + "..."
    return WorkflowError(f"The input '{spec.name}' must be {wanted}, not {shown!r}.")


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer beyond any float (10**400 from a --var-file)
        return False


def coerce(spec: InputSpec, value: Any) -> Any:
    """One value as its input's type (text typed in a form or on the command line is converted)."""
    kind = spec.type
    if kind in ("number", "integer"):
        if isinstance(value, bool):
            raise _bad(spec, value, "a number")
        try:
            number = float(value) if not isinstance(value, int | float) else value
        except (TypeError, ValueError):
            raise _bad(spec, value, "a number") from None
        if not _finite(number):  # "inf" and "nan" read as floats, but no step can use them
            raise _bad(spec, value, "a finite number")
        if kind == "integer":
            if float(number) != int(number):
                raise _bad(spec, value, "a whole number")
            return int(number)
        return int(number) if float(number).is_integer() and not isinstance(value, float) else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise _bad(spec, value, "true or false")
    if kind == "list":
        if isinstance(value, list):
            return [str(v) if not isinstance(v, dict | list) else v for v in value]
        text = str(value)
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return parsed
        except ValueError:
            pass
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "json":
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad(spec, value, f"JSON ({exc})") from None
    if kind in ("file", "folder"):
        path = Path(str(value)).expanduser()
        if kind == "file":
            if not path.is_file():
                raise WorkflowError(f"The input '{spec.name}' names a file that does not exist: {path}.")
            return str(path.resolve())
        if not path.is_dir():
            raise WorkflowError(f"The input '{spec.name}' names a folder that does not exist: {path}.")
        return str(path.resolve())
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )
    if spec.choices and text not in spec.choices:
        raise WorkflowError(f"The input '{spec.name}' is one of {', '.join(spec.choices)}, not {text!r}.")
    return text


def resolve_inputs(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every input's value (given, else its default); raises one message naming every missing input."""
    unknown = [name for name in given if workflow.input(name) is None]
    if unknown:
        names = ", ".join(i.name for i in workflow.inputs) or "none"
        raise WorkflowError(
            f"The workflow '{workflow.name}' has no input {', '.join(unknown)} (its inputs: {names})."
        )
    values: dict[str, Any] = {}
    missing: list[str] = []
    for spec in workflow.inputs:
        value = given.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if spec.default is not None:
                value = spec.default
            elif spec.required:
                missing.append(spec.name)
                continue
            else:
                values[spec.name] = None if spec.type not in ("string", "text") else ""
                continue
        values[spec.name] = coerce(spec, value)
    if missing:
        raise WorkflowError(
            f"Missing a value for the input{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "give each with --var NAME=VALUE (or fill it in the form)."
        )
    return values
