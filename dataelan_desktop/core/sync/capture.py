"""Capture: every change to a synced table becomes a stamped operation in the outbox, in the same
transaction as the change.

One hook on the app's sessions, whoever the store is: ``after_flush`` reads the declared fields
(``core/sync/schema.py``) of the rows a flush inserted or changed, and ``do_orm_execute`` wraps bulk
``update``/``delete`` statements, reading the rows they touch before and after. No store knows about
sync. Capture runs only while the device is signed in (``sync_state.signed_in``); signing in records
what changed meanwhile (``store.SyncStore.sign_in``). Changes applied from the server are marked on
their session (``REMOTE``) and are not captured again.

A message is held back while it streams (its fields are immutable once synced): its insert is
recorded when it is finished, stopped, failed or marked interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, attributes

from ..db.tables import Base
from .clock import HybridClock, Stamp
from .schema import TABLES
from .tables import INSERTED, SyncOutboxRow, SyncRegisterRow, SyncStateRow
from .values import app_table, encode

log = logging.getLogger(__name__)

#: a session whose ``info`` holds this key is applying changes from the server: not captured
REMOTE = "dataelan_sync_remote"
#: rows held back (not synced yet) while a field has a value: a streaming reply
HELD = {"messages": ("status", "streaming")}
_BULK = "dataelan_sync_bulk"  # session.info: rows a bulk statement touched, as they were before it


@dataclass(frozen=True, slots=True)
class Pending:
    """A change before it is stamped."""

    table: str
    row_id: str
    kind: str  # insert | set
    field: str | None
    value: Any


def watch(maker) -> None:
    """Capture the changes of every session ``maker`` makes (``Database`` calls this once)."""
    event.listen(maker, "after_flush", _after_flush)
    event.listen(maker, "do_orm_execute", _bulk)
    event.listen(maker, "before_commit", _bulk_done)
    event.listen(maker, "after_rollback", _bulk_dropped)


def is_held(table: str, values: dict[str, Any]) -> bool:
    held = HELD.get(table)
    return held is not None and values.get(held[0]) == held[1]


def row_ops(table: str, values: dict[str, Any]) -> list[Pending]:
    """A whole row as operations: its insert, and a set for each mutable field that has a value."""
    spec = TABLES[table]
    row_id = values["id"]
    ops = [Pending(table, row_id, "insert", None, {f: encode(values.get(f)) for f in sorted(spec.immutable)})]
    for name in sorted(spec.mutable):
        if values.get(name) is not None:
            ops.append(Pending(table, row_id, "set", name, encode(values[name])))
    return ops


# -- rows flushed through a session ----------------------------------------------------------


def _synced_table(obj) -> str | None:
    table = inspect(obj).mapper.local_table
    if getattr(table, "metadata", None) is Base.metadata and table.name in TABLES:
        return table.name
    return None


def _values(obj, names: Iterable[str]) -> dict[str, Any]:
    state = inspect(obj)
    return {n: state.dict.get(n) for n in names}


def _after_flush(session: Session, _context) -> None:
    if session.info.get(REMOTE):
        return
    pending: list[Pending] = []
    for obj in session.new:
        table = _synced_table(obj)
        if table is None:
            continue
        spec = TABLES[table]
        values = _values(obj, {"id", *spec.immutable, *spec.mutable, *(h[0] for h in [HELD.get(table)] if h)})
        if not is_held(table, values):
            pending += row_ops(table, values)
    for obj in session.dirty:
        table = _synced_table(obj)
        if table is None or obj in session.new:
            continue
        pending += _changed_fields(table, obj)
    for obj in session.deleted:  # nothing deletes synced rows outright today; a tombstone if it ever does
        table = _synced_table(obj)
        if table is not None:
            pending.append(Pending(table, inspect(obj).identity[0], "set", "deleted_at", encode(_now())))
    if pending:
        record(session.connection(), pending)


def _changed_fields(table: str, obj) -> list[Pending]:
    spec = TABLES[table]
    state = inspect(obj)
    row_id = state.dict.get("id") or state.identity[0]
    held = HELD.get(table)
    if held is not None:
        hist = attributes.get_history(obj, held[0])
        if hist.added and hist.deleted and hist.deleted[0] == held[1] and hist.added[0] != held[1]:
            # a reply has ended: now it syncs, whole
            return row_ops(table, _values(obj, {"id", *spec.immutable, *spec.mutable}))
        if state.dict.get(held[0]) == held[1]:
            return []
    ops = []
    for name in sorted(spec.mutable):
        hist = attributes.get_history(obj, name)
        if hist.added or hist.deleted:
            value = hist.added[0] if hist.added else None
            ops.append(Pending(table, row_id, "set", name, encode(value)))
    changed_fixed = [n for n in spec.immutable if attributes.get_history(obj, n).has_changes()]
    if changed_fixed:  # e.g. a recovered reply rewritten after it synced: the first version stays synced
        log.warning("%s %s changed immutable field(s) %s after sync; not sent", table, row_id, changed_fixed)
    return ops


# -- bulk statements (update ... where ...) ----------------------------------------------------


def _bulk(state: ORMExecuteState) -> None:
    """Before a bulk update or delete of a synced table: note the rows it will touch, as they are.
    At commit (``_bulk_done``) they are read again and what changed becomes operations. (Running
    the statement here instead would make this module its writer in the one-writer check's eyes.)"""
    if not (state.is_update or state.is_delete) or state.session.info.get(REMOTE):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "metadata", None) is not Base.metadata or table.name not in TABLES:
        return
    cols = [table.c[n] for n in _names(table.name)]
    where = state.statement.whereclause
    query = select(*cols) if where is None else select(*cols).where(where)
    before = {r.id: r._asdict() for r in state.session.connection().execute(query)}
    if before:
        state.session.info.setdefault(_BULK, []).append((table.name, state.is_delete, before))


def _bulk_done(session: Session) -> None:
    noted = session.info.pop(_BULK, None)
    if not noted or session.info.get(REMOTE):
        return
    conn = session.connection()
    pending: list[Pending] = []
    for name, deleted, before in noted:
        if deleted:
            pending += [Pending(name, rid, "set", "deleted_at", encode(_now())) for rid in before]
            continue
        table = app_table(name)
        cols = [table.c[n] for n in _names(name)]
        ids = list(before)
        after = {}
        for i in range(0, len(ids), 500):
            after.update(
                {
                    r.id: r._asdict()
                    for r in conn.execute(select(*cols).where(table.c.id.in_(ids[i : i + 500])))
                }
            )
        for rid, old in before.items():
            new = after.get(rid)
            if new is None:
                continue
            if is_held(name, old):
                if not is_held(name, new):
                    pending += row_ops(name, new)
                continue
            for field in sorted(TABLES[name].mutable):
                if new[field] != old[field]:
                    pending.append(Pending(name, rid, "set", field, encode(new[field])))
    if pending:
        record(conn, pending)


def _bulk_dropped(session: Session) -> None:
    session.info.pop(_BULK, None)


def _names(table: str) -> list[str]:
    spec = TABLES[table]
    held = HELD.get(table)
    return sorted({"id", *spec.immutable, *spec.mutable, *([held[0]] if held else [])})


def _now() -> datetime:
    return datetime.now(UTC)


# -- stamping and writing ----------------------------------------------------------------------

_STATE = SyncStateRow.__table__
_OUTBOX = SyncOutboxRow.__table__
_REGISTERS = SyncRegisterRow.__table__


def record(conn: Connection, pending: list[Pending], *, always: bool = False) -> int:
    """Stamp ``pending`` with the device's persisted clock and append them to the outbox, on ``conn``
    (the caller's transaction); each set's stamp and value also become the field's register.
    Nothing is recorded while signed out (unless ``always``). Returns how many were recorded."""
    try:
        state = conn.execute(select(_STATE).where(_STATE.c.id == 1)).first()
    except OperationalError:  # a database at a schema before sync (a migration test's old copy)
        return 0
    if state is None or state.device_id is None or not (state.signed_in or always):
        return 0
    clock = HybridClock(state.device_id, last=Stamp.parse(state.clock) if state.clock else None)
    op_id = state.next_op_id
    outbox, registers = [], []
    for p in pending:
        hlc = str(clock.tick())
        outbox.append({"op_id": op_id, "table_name": p.table, "row_id": p.row_id, "kind": p.kind,
                       "field": p.field, "value": p.value, "hlc": hlc})  # fmt: skip
        field = INSERTED if p.kind == "insert" else p.field
        registers.append({"table_name": p.table, "row_id": p.row_id, "field": field, "hlc": hlc,
                          "value": None if p.kind == "insert" else p.value})  # fmt: skip
        op_id += 1
    conn.execute(insert(_OUTBOX), outbox)
    upsert = sqlite_insert(_REGISTERS)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["table_name", "row_id", "field"],
            set_={"hlc": upsert.excluded.hlc, "value": upsert.excluded.value},
        ),
        registers,
    )
    conn.execute(update(_STATE).where(_STATE.c.id == 1).values(clock=str(clock.last), next_op_id=op_id))
    return len(outbox)


def all_rows(conn: Connection, table: str) -> Iterable[dict[str, Any]]:
    """Every row of a synced table with its declared fields (for the snapshot at sign-in)."""
    t = app_table(table)
    for row in conn.execute(select(*[t.c[n] for n in _names(table)])):
        yield row._asdict()
