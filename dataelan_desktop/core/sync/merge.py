"""The merge rules, as pure functions, and an in-memory replica that follows them.

- Immutable rows merge by union: the first insert of a row id is kept, later ones change nothing.
- Mutable fields are last-writer-wins registers: the greater stamp wins, whatever order the
  writes arrive in (stamps are unique per device and ordered by wall, counter, device).
So applying the same set of changes in any order, any number of times, gives the same replica.
The app's SQLite-backed client applies the same two rules to its tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .protocol import Change, Operation

RowKey = tuple[str, str]  # (table, row id)


def newer(incoming_hlc: str, current_hlc: str | None) -> bool:
    """Whether a register written at ``incoming_hlc`` replaces one written at ``current_hlc``.

    Stamps compare as fixed-width strings; equal stamps are the same write (a replay).
    """
    return current_hlc is None or incoming_hlc > current_hlc


@dataclass
class Register:
    value: Any
    hlc: str


@dataclass
class Replica:
    """One copy of a user's data: immutable rows and the registers of mutable fields."""

    rows: dict[RowKey, dict[str, Any]] = field(default_factory=dict)
    #: per row, its mutable fields' registers (a register may arrive before its row's insert)
    registers: dict[RowKey, dict[str, Register]] = field(default_factory=dict)

    def apply(self, change: Change | Operation) -> bool:
        """Merge one change (or a local operation); returns whether the replica changed."""
        if change.kind == "insert":
            key = (change.table, change.row_id)
            if key in self.rows:
                return False
            self.rows[key] = dict(change.value)
            return True
        fields = self.registers.setdefault((change.table, change.row_id), {})
        current = fields.get(change.field)
        if not newer(change.hlc, current.hlc if current else None):
            return False
        fields[change.field] = Register(change.value, change.hlc)
        return True

    def apply_all(self, changes: Iterable[Change | Operation]) -> int:
        return sum(self.apply(c) for c in changes)

    def row(self, table: str, row_id: str) -> dict[str, Any] | None:
        """The row as the app sees it: immutable fields plus each register's value; None if not inserted."""
        base = self.rows.get((table, row_id))
        if base is None:
            return None
        merged = dict(base)
        for name, reg in self.registers.get((table, row_id), {}).items():
            merged[name] = reg.value
        return merged

    def state(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything, keyed by table then row id: comparable across replicas (tombstones included)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (t, r), fields in self.rows.items():
            out.setdefault(t, {})[r] = {"fields": dict(fields), "registers": {}}
        for (t, r), fields in self.registers.items():
            entry = out.setdefault(t, {}).setdefault(r, {"fields": None, "registers": {}})
            entry["registers"] = {f: (reg.value, reg.hlc) for f, reg in fields.items()}
        return out

    def live(self, table: str) -> dict[str, dict[str, Any]]:
        """The rows of ``table`` that are inserted and not deleted (tombstone unset)."""
        out = {}
        for t, r in self.rows:
            if t == table:
                row = self.row(t, r)
                if row and not row.get("deleted_at"):
                    out[r] = row
        return out
