"""Column values as they travel: JSON-friendly on the wire, typed again when applied to a row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Table

from ..db.tables import Base


def app_table(name: str) -> Table:
    return Base.metadata.tables[name]


def encode(value: Any) -> Any:
    """A column's value for an operation: datetimes as ISO 8601 in UTC, the rest as JSON has it."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite hands back naive datetimes; the app writes UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value


class Unreadable(ValueError):
    """A value another client sent that this column cannot take (e.g. a date that is not ISO 8601)."""


def decode(table: Table, field: str, value: Any) -> Any:
    """An operation's value as the column takes it (an ISO string back to a datetime)."""
    if value is not None and isinstance(table.c[field].type, DateTime):
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise Unreadable(f"{table.name}.{field}: {value!r} is not a date") from None
    return value
