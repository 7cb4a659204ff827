"""Applying pulled changes to the app's tables, with the merge rules of ``merge.py``:

- an insert keeps the first version of a row (messages merge by union);
- a set replaces a field only when its stamp is greater than the field's register (last writer wins,
  ties settled by the device id inside the stamp); a register for a row not here yet is kept and
  applied when the row arrives.

The owning stores do the writes (one writer per table): each store's ``apply_remote`` runs
``for statement, params in remote_writes(session, changes): session.execute(statement, params)``.
This module decides what to write and keeps its own registers; the session is marked so that the
capture hook does not send the changes back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .capture import REMOTE
from .merge import newer
from .protocol import Change
from .schema import TABLES
from .tables import INSERTED, SyncRegisterRow
from .values import Unreadable, app_table, decode

log = logging.getLogger(__name__)
_REGISTERS = SyncRegisterRow.__table__
_CHUNK = 400  # keys per IN (...) query: well under SQLite's bound-parameter limit


@dataclass
class Touched:
    """What a batch of changes touched, for the store to publish."""

    tables: set[str] = field(default_factory=set)
    rows: dict[str, set[str]] = field(default_factory=dict)  # table → row ids
    #: for inserted rows, the value of one immutable field per table (a message's conversation id)
    parents: dict[str, set[str]] = field(default_factory=dict)


def touched(changes: Iterable[Change], parent_field: dict[str, str] | None = None) -> Touched:
    out = Touched()
    for c in changes:
        out.tables.add(c.table)
        out.rows.setdefault(c.table, set()).add(c.row_id)
        name = (parent_field or {}).get(c.table)
        if name and c.kind == "insert" and isinstance(c.value, dict) and c.value.get(name):
            out.parents.setdefault(c.table, set()).add(c.value[name])
    return out


def remote_writes(session: Session, changes: Sequence[Change]) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """The statements (with their parameter lists) that merge ``changes`` into the app's tables."""
    session.info[REMOTE] = True  # what the server sent is not captured and sent back
    conn = session.connection()
    # a page may hold a child before its parent (a reply before its question): check keys at commit
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    order = {name: i for i, name in enumerate(TABLES)}
    inserts: dict[str, dict[str, Change]] = {}
    sets: dict[tuple[str, str, str], Change] = {}
    for c in changes:
        if c.kind == "insert":
            inserts.setdefault(c.table, {}).setdefault(c.row_id, c)
        else:
            key = (c.table, c.row_id, c.field)
            if key not in sets or c.hlc > sets[key].hlc:
                sets[key] = c

    # registers first: last writer wins, field by field (kept even for a row not here yet)
    current = _registers(conn, set(sets))
    winners = {key: c for key, c in sets.items() if newer(c.hlc, current.get(key, (None, None))[0])}
    if winners:
        upsert = sqlite_insert(_REGISTERS)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["table_name", "row_id", "field"],
                set_={"hlc": upsert.excluded.hlc, "value": upsert.excluded.value},
            ),
            [{"table_name": t, "row_id": r, "field": f, "hlc": c.hlc, "value": c.value}
             for (t, r, f), c in winners.items()],
        )  # fmt: skip
        _keep_waiting(conn, winners)

    # inserts: the first version of a row stays; it is written with the registers that waited for it
    for name in sorted(inserts, key=order.get):
        table, spec = app_table(name), TABLES[name]
        waiting = _waiting(conn, name)
        required = _required(table)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row_id, c in inserts[name].items():
            values = {k: v for k, v in c.value.items() if k in spec.immutable}
            values.update({f: v for f, v in waiting.get(row_id, {}).items() if f in spec.mutable})
            values = _fill_required(table, _decoded(table, values), required)
            groups.setdefault(tuple(sorted(values)), []).append({"id": row_id, **values})
        for rows in groups.values():
            yield sqlite_insert(table).on_conflict_do_nothing(), rows
        _mark_inserted(conn, name, inserts[name].values())
        _done_waiting(conn, name, [r for r in waiting if r in inserts[name]])

    # rows that were here already take the fields that won
    by_field: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (t, r, f), c in winners.items():
        try:
            by_field.setdefault((t, f), []).append({"_row": r, "_value": decode(app_table(t), f, c.value)})
        except Unreadable as err:  # kept in the register as sent; the row keeps its value here
            log.warning("sync: %s", err)
    for (t, f), params in sorted(by_field.items(), key=lambda item: order.get(item[0][0], 0)):
        table = app_table(t)
        yield update(table).where(table.c.id == bindparam("_row")).values({f: bindparam("_value")}), params


def _fill_required(table, values: dict[str, Any], required: dict[str, Any]) -> dict[str, Any]:
    """A row's required columns that nothing has filled yet (a name whose register has not arrived)
    get an empty value of their type, so the row can be written; the register fills it when it comes."""
    for name, empty in required.items():
        if name not in values:
            values[name] = empty
    return values


def _required(table) -> dict[str, Any]:
    """The columns a row cannot be written without (not null, no default), each with its empty value."""
    out = {}
    for column in table.columns:
        if column.nullable or column.default is not None or column.primary_key:
            continue
        try:
            python = column.type.python_type
        except NotImplementedError:
            python = str
        out[column.name] = python() if python in (str, int, float, bool) else ""
    return out


def _decoded(table, values: dict[str, Any]) -> dict[str, Any]:
    """The values the columns can take; an unreadable one is left out (the column's default stands)."""
    out = {}
    for key, value in values.items():
        try:
            out[key] = decode(table, key, value)
        except Unreadable as err:
            log.warning("sync: %s", err)
    return out


def _mark_inserted(conn: Connection, table: str, changes: Iterable[Change]) -> None:
    # plain executemany: a first sync marks 100,000 rows here, and this is sync's own table
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO sync_registers (table_name, row_id, field, hlc, value) VALUES (?, ?, ?, ?, NULL)",
        [(table, c.row_id, INSERTED, c.hlc) for c in changes],
    )


#: registers of rows not here yet are also kept under this prefix, so that a row's insert finds the
#: few that wait for it without reading the registers of every row of its table
WAITING = "waiting:"


def _keep_waiting(conn: Connection, winners: dict[tuple[str, str, str], Change]) -> None:
    by_table: dict[str, set[str]] = {}
    for t, r, _f in winners:
        by_table.setdefault(t, set()).add(r)
    missing: set[tuple[str, str]] = set()
    for t, rows in by_table.items():
        table, ids = app_table(t), sorted(rows)
        present: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            present.update(
                conn.execute(select(table.c.id).where(table.c.id.in_(ids[i : i + _CHUNK]))).scalars()
            )
        missing.update((t, r) for r in rows - present)
    if missing:
        upsert = sqlite_insert(_REGISTERS)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["table_name", "row_id", "field"],
                set_={"hlc": upsert.excluded.hlc, "value": upsert.excluded.value},
            ),
            [{"table_name": WAITING + t, "row_id": r, "field": f, "hlc": c.hlc, "value": c.value}
             for (t, r, f), c in winners.items() if (t, r) in missing],
        )  # fmt: skip


def _waiting(conn: Connection, table: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(
        select(_REGISTERS.c.row_id, _REGISTERS.c.field, _REGISTERS.c.value).where(
            _REGISTERS.c.table_name == WAITING + table
        )
    ):
        out.setdefault(row.row_id, {})[row.field] = row.value
    return out


def _done_waiting(conn: Connection, table: str, row_ids: list[str]) -> None:
    for i in range(0, len(row_ids), _CHUNK):
        conn.execute(
            delete(_REGISTERS).where(
                _REGISTERS.c.table_name == WAITING + table, _REGISTERS.c.row_id.in_(row_ids[i : i + _CHUNK])
            )
        )


def _registers(
    conn: Connection, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[str, Any]]:
    out: dict[tuple[str, str, str], tuple[str, Any]] = {}
    ordered = sorted(keys)
    cols = (_REGISTERS.c.table_name, _REGISTERS.c.row_id, _REGISTERS.c.field)
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i : i + _CHUNK]
        for row in conn.execute(
            select(*cols, _REGISTERS.c.hlc, _REGISTERS.c.value).where(tuple_(*cols).in_(chunk))
        ):
            out[(row.table_name, row.row_id, row.field)] = (row.hlc, row.value)
    return out
