"""The one writer of the synced data on the server: push stores operations once, pull reads after a cursor.

Sequence numbers come from the user's version row, locked for the whole push (SELECT … FOR UPDATE
on PostgreSQL; on SQLite the first statement is a write, which takes the database's write lock),
so a user's pushes commit one after another in seq order: a pull that has seen seq N can never
later find a change numbered N or less. The server keeps each row's immutable fields and each
field's current register with the seq it last changed at, so a new device pulls today's state,
not every operation ever pushed.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, case, cast, literal, null, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..core.sync.protocol import Change, Operation, ProtocolError, server_now, validate
from .accounts import Principal
from .errors import ApiError
from .settings import ServerSettings
from .tables import Device, OpLog, Register, Row, UserVersion

log = logging.getLogger("dataelan.server")


@dataclass(frozen=True)
class PushOutcome:
    accepted: int
    duplicates: int
    seq: int
    last_op_id: int


def _insert(session: Session, table):
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def lock_version(session: Session, user_id: int) -> int:
    """Take the user's version row for this transaction; returns the current seq."""
    if session.bind.dialect.name == "sqlite":
        session.execute(update(UserVersion).where(UserVersion.user_id == user_id).values(seq=UserVersion.seq))
    seq = session.scalar(select(UserVersion.seq).where(UserVersion.user_id == user_id).with_for_update())
    if seq is None:  # a user made before the version row existed; never expected, but cheap to mend
        session.add(UserVersion(user_id=user_id, seq=0))
        session.flush()
        seq = 0
    return seq


def check_ops(ops: list[Operation], who: Principal, settings: ServerSettings) -> None:
    """Refuse the whole push (422) on the first operation that breaks the protocol."""
    server_ms = server_now()
    for index, op in enumerate(ops):
        try:
            validate(op, who.device_id, server_ms, settings.max_clock_ahead_ms)
        except ProtocolError as err:
            raise ApiError(
                422, "bad_operation", f"Operation {index + 1} (op id {op.op_id}) was refused: {err}."
            ) from None


def push(session: Session, who: Principal, ops: list[Operation], settings: ServerSettings) -> PushOutcome:
    user, device = who.user_id, who.device_id
    base = lock_version(session, user)
    # Each operation is offered the next number; the op log's key (user, device, op id) keeps out
    # the ones stored before, and RETURNING names the ones that are new. Numbers offered to a
    # duplicate stay unused: gaps are harmless, only the order of commits matters.
    offered: dict[int, tuple[int, Operation]] = {}
    for op in ops:
        if op.op_id not in offered:  # the same op id twice in one push counts once
            offered[op.op_id] = (base + len(offered) + 1, op)
    stored: set[int] = set()
    if offered:
        stmt = (
            _insert(session, OpLog)
            .on_conflict_do_nothing(index_elements=["user_id", "device_id", "op_id"])
            .returning(OpLog.op_id)
        )
        rows = [
            {"user_id": user, "device_id": device, "op_id": i, "seq": seq}
            for i, (seq, _op) in offered.items()
        ]
        stored = set(session.scalars(stmt, rows))
    fresh = [offered[i] for i in offered if i in stored]
    top = base
    if fresh:
        _apply(session, user, fresh)
        top = base + len(offered)
        session.execute(update(UserVersion).where(UserVersion.user_id == user).values(seq=top))
    # the device's highest op id, raised in one statement (a round trip less while the lock is held)
    last = max(stored, default=0)
    last_op_id = session.scalar(
        update(Device)
        .where(Device.user_id == user, Device.id == device)
        .values(last_op_id=case((Device.last_op_id < last, last), else_=Device.last_op_id))
        .returning(Device.last_op_id)
    )
    if settings.fault == "pause-push-before-commit" and fresh:  # test hook: the kill test strikes here
        pause_for_fault("push paused before commit")
    return PushOutcome(len(fresh), len(ops) - len(fresh), top, last_op_id)


def pause_for_fault(what: str) -> None:
    """Test hook (settings.fault): say so on stderr and hold still, for a test to SIGKILL the server."""
    print(f"fault: {what}", file=sys.stderr, flush=True)
    time.sleep(60)


def _apply(session: Session, user: int, fresh: list[tuple[int, Operation]]) -> None:
    inserts = [
        {
            "user_id": user,
            "table_name": op.table,
            "row_id": op.row_id,
            "fields": op.value,
            "hlc": op.hlc,
            "seq": seq,
        }
        for seq, op in fresh
        if op.kind == "insert"
    ]
    if inserts:
        stmt = _insert(session, Row).on_conflict_do_nothing(
            index_elements=["user_id", "table_name", "row_id"]
        )
        session.execute(stmt, inserts)
    # Within the batch only the latest write per field matters; the database keeps the greater stamp.
    winners: dict[tuple[str, str, str], tuple[int, Operation]] = {}
    for seq, op in fresh:
        if op.kind == "set":
            key = (op.table, op.row_id, op.field)
            if key not in winners or op.hlc > winners[key][1].hlc:
                winners[key] = (seq, op)
    if winners:
        stmt = _insert(session, Register)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "table_name", "row_id", "field"],
            set_={"value": stmt.excluded.value, "hlc": stmt.excluded.hlc, "seq": stmt.excluded.seq},
            where=Register.hlc < stmt.excluded.hlc,
        )
        session.execute(
            stmt,
            [
                {
                    "user_id": user,
                    "table_name": op.table,
                    "row_id": op.row_id,
                    "field": op.field,
                    "value": op.value,
                    "hlc": op.hlc,
                    "seq": seq,
                }
                for seq, op in winners.values()
            ],
        )


def pull(session: Session, who: Principal, after: int, limit: int) -> tuple[list[Change], int, bool]:
    """Changes with seq > ``after`` in seq order, read in one statement (one snapshot)."""
    rows = select(
        Row.seq,
        Row.table_name,
        Row.row_id,
        literal("insert", String).label("kind"),
        cast(null(), String).label("field"),
        Row.fields.label("value"),
        Row.hlc,
    ).where(Row.user_id == who.user_id, Row.seq > after)
    registers = select(
        Register.seq,
        Register.table_name,
        Register.row_id,
        literal("set", String).label("kind"),
        Register.field,
        Register.value,
        Register.hlc,
    ).where(Register.user_id == who.user_id, Register.seq > after)
    both = union_all(rows, registers).subquery()
    query = select(both).order_by(both.c.seq).limit(limit + 1)
    result = session.execute(query).all()
    # the union's value column is typed by its first select (JSON), so both kinds come back decoded
    changes = [Change(r.seq, r.table_name, r.row_id, r.kind, r.field, r.value, r.hlc) for r in result[:limit]]
    cursor = changes[-1].seq if changes else after
    return changes, cursor, len(result) > limit


def current_seq(session: Session, user_id: int) -> int:
    return session.scalar(select(UserVersion.seq).where(UserVersion.user_id == user_id)) or 0


def read_row(session: Session, who: Principal, table: str, row_id: str) -> dict[str, Any] | None:
    """One row's current state, only if it is this user's (None otherwise, answered as 404)."""
    row = session.get(Row, (who.user_id, table, row_id))
    registers = session.scalars(
        select(Register).where(
            Register.user_id == who.user_id, Register.table_name == table, Register.row_id == row_id
        )
    ).all()
    if row is None and not registers:
        return None
    return {
        "table": table,
        "row_id": row_id,
        "fields": row.fields if row else None,
        "registers": {r.field: {"value": r.value, "hlc": r.hlc} for r in registers},
    }
