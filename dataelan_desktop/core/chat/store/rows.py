"""The small row helpers every part of the chat store shares: the live-row filter, the check of the
fields a caller may change, and adding or getting one row (a deleted row is not found)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..views import NotFoundError


def _alive(model):
    return model.deleted_at.is_(None)


def _check_fields(what: str, fields: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


def _add(session: Session, row):
    session.add(row)
    session.flush()
    return row


def _get(session: Session, model, row_id: str | None):
    row = session.get(model, row_id) if row_id else None
    if row is None or row.deleted_at is not None:
        raise NotFoundError(f"No {model.__tablename__[:-1]} with id {row_id}.")
    return row
