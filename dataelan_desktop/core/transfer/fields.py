"""Typed reading of untrusted JSON: each value is checked against the type the format gives it, and
a mismatch is an :class:`ImportFormatError` that says where (``conversation 3 ('Bread'), message
'a1': 'content' is a list, not text``). Text is repaired once, here: a lone surrogate (half of an
emoji, which SQLite cannot store) becomes U+FFFD and is counted."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from .parsed import ImportFormatError

#: how deep a free-form value that is kept (an attachment) may nest
MAX_DEPTH = 16
_SURROGATE = re.compile("[\ud800-\udfff]")

_KIND = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
         float: "a number", type(None): "null"}  # fmt: skip


def kind_of(value: Any) -> str:
    return _KIND.get(type(value), type(value).__name__)


def one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Reader:
    """Reads fields of JSON objects at one place in the file, repairing text and counting repairs."""

    def __init__(self, source: str):
        self.source = one_line(source, 80)
        self.repaired = 0

    def fail(self, where: str, problem: str) -> ImportFormatError:
        return ImportFormatError(
            f"{self.source}: {where}: {problem}." if where else f"{self.source}: {problem}."
        )

    def obj(self, value: Any, where: str, what: str = "this") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"{what} is {kind_of(value)}, not an object")
        return value

    def array(self, value: Any, where: str, what: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"{what} is {kind_of(value)}, not a list")
        return value

    def text(self, raw: dict[str, Any], key: str, where: str, *, optional: bool = True,
             default: str | None = None) -> str | None:  # fmt: skip
        value = raw.get(key)
        if value is None:
            if not optional:
                raise self.fail(where, f"'{key}' is missing")
            return default
        if not isinstance(value, str):
            raise self.fail(where, f"'{key}' is {kind_of(value)}, not text")
        return self.clean(value)

    def required_text(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = self.text(raw, key, where, optional=False)
        assert value is not None
        return value

    def clean(self, value: str) -> str:
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            repaired, count = _SURROGATE.subn("\ufffd", value)
            self.repaired += count
            return repaired

    def integer(self, raw: dict[str, Any], key: str, where: str) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise self.fail(
                where, f"'{key}' is {kind_of(value)} {one_line(repr(value), 20)}, not a whole number ≥ 0"
            )
        return value

    def number(self, raw: dict[str, Any], key: str, where: str) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise self.fail(
                where, f"'{key}' is {kind_of(value)} {one_line(repr(value), 20)}, not a number ≥ 0"
            )
        return float(value)

    def flag(self, raw: dict[str, Any], key: str, where: str) -> bool:
        value = raw.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(where, f"'{key}' is {kind_of(value)}, not true/false")
        return value

    def timestamp(self, raw: dict[str, Any], key: str, where: str) -> datetime | None:
        """Seconds since 1970 (ChatGPT) or an ISO 8601 text (the app's own exports)."""
        value = raw.get(key)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float):
                return datetime.fromtimestamp(float(value), UTC)
            if isinstance(value, str):
                parsed = datetime.fromisoformat(value)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            pass
        raise self.fail(where, f"'{key}' is not a date ({one_line(repr(value), 30)})")

    def choice(
        self, raw: dict[str, Any], key: str, where: str, allowed: tuple[str, ...], default: str
    ) -> str:
        value = raw.get(key)
        if value is None:
            return default
        if value not in allowed:
            raise self.fail(where, f"'{key}' is {one_line(repr(value), 30)}, not one of {', '.join(allowed)}")
        return value
