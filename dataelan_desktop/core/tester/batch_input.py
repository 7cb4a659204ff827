"""Checking a batch before any cell runs: the prompts file (CSV, JSONL, text) and the checks it asks for.

A bad regular expression or latency limit used to be found only after every cell had run
(and again on every ``--resume``); a JSONL line that was not an object, ``vars`` that were
not an object, or a CSV field over the csv module's limit ended in a raw TypeError or
csv.Error. Here each is a ``ValueError`` with one line naming the row and the problem.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

CHECKS = ("contains", "regex", "json", "max_latency_ms")
#: a prompt may be long (a pasted document), but not unbounded
MAX_FIELD_BYTES = 64 * 1024 * 1024
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a prompts file, each a mapping of column → value; raises ValueError in one line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text (byte {exc.start:,}).") from None
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be read ({exc.strerror or exc}).") from None
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"{path.name} line {number} is not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise ValueError(f'{path.name} line {number} is {_kind(row)}, not an object with a "prompt".')
            if not isinstance(row.get("prompt", ""), str):
                raise ValueError(f'{path.name} line {number}: "prompt" is {_kind(row["prompt"])}, not text.')
            variables = row.pop("vars", None) or {}
            if not isinstance(variables, dict):
                raise ValueError(f'{path.name} line {number}: "vars" is {_kind(variables)}, not an object.')
            rows.append({**variables, **row})
        return rows
    if path.suffix.lower() == ".csv":
        if csv.field_size_limit() < MAX_FIELD_BYTES:
            csv.field_size_limit(MAX_FIELD_BYTES)
        try:
            return list(csv.DictReader(io.StringIO(text)))
        except csv.Error as exc:
            raise ValueError(f"{path.name} is not a CSV file the app can read: {exc}.") from None
    return [{"prompt": block.strip()} for block in text.split("\n\n") if block.strip()]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)  # fmt: skip


def check_checks(checks: dict[str, Any], where: str) -> dict[str, Any]:
    """The checks of one prompt, each usable (a regex that compiles, a positive latency), or ValueError."""
    for key, value in checks.items():
        if key not in CHECKS:
            raise ValueError(f"{where}: unknown check '{key}' (use {', '.join(CHECKS)}).")
        if isinstance(value, dict | list):
            raise ValueError(f"{where}: the check '{key}' is {_kind(value)}, not a value.")
    if "regex" in checks:
        try:
            re.compile(str(checks["regex"]))
        except re.error as exc:
            raise ValueError(
                f"{where}: the regex {str(checks['regex'])[:60]!r} is not valid ({exc})."
            ) from None
    if "max_latency_ms" in checks:
        value = checks["max_latency_ms"]
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not number > 0 or number == float("inf"):
            raise ValueError(
                f"{where}: max_latency_ms is {str(value)[:30]!r}, not a number of milliseconds above 0."
            )
    if "json" in checks and str(checks["json"]).lower() not in (*_TRUE, *_FALSE):
        raise ValueError(f"{where}: the check 'json' is {str(checks['json'])[:30]!r}, not true or false.")
    return checks


def check_plan(plan: dict[str, Any]) -> None:
    """A saved batch plan (``--resume``) is usable as it is, before any missing cell runs again."""
    models, prompts = plan.get("models"), plan.get("prompts")
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        raise ValueError("This batch run has no list of models; start a new batch.")
    if not isinstance(prompts, list) or not prompts:
        raise ValueError("This batch run has no prompts; start a new batch.")
    for number, prompt in enumerate(prompts, 1):
        if not isinstance(prompt, dict) or not isinstance(prompt.get("text"), str):
            raise ValueError(f"prompt {number} of this batch run has no text; start a new batch.")
        checks = prompt.get("checks") or {}
        if not isinstance(checks, dict):
            raise ValueError(f"prompt {number} of this batch run has checks that are {_kind(checks)}.")
        check_checks(checks, f"prompt {number}")
