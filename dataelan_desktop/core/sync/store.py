"""The sync client's store: the one writer of ``sync_state``, ``sync_outbox`` and ``sync_registers``
(the capture hook and ``apply.py`` write them too, inside the app transaction they belong to).

Signing in records what changed while signed out (a snapshot of the synced tables against the
registers), so that a device with a long history sends all of it on its first sync.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..changes import ChangeBus, Changes
from ..db import Database
from ..db.tables import utcnow
from .capture import HELD, Pending, all_rows, is_held, record, row_ops
from .clock import HybridClock, Stamp
from .protocol import Operation
from .schema import TABLES
from .tables import INSERTED, SyncOutboxRow, SyncRegisterRow, SyncStateRow
from .values import encode


@dataclass(frozen=True)
class SyncStatus:
    signed_in: bool
    server_url: str | None
    user: str | None
    device_id: str | None
    device_name: str | None
    pending: int  # operations waiting to be sent
    cursor: int
    encrypted: bool
    last_sync_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Account:
    """Who this device signs in as (for the keyring entry and the HTTP client)."""

    server_url: str
    user: str
    device_id: str
    device_name: str
    encrypted: bool


@dataclass(frozen=True)
class RoundState:
    """What a sync round needs to begin, read in one call."""

    account: Account | None
    cursor: int
    pending: int
    clock_ms: int  # the wall part of the device clock's last stamp


def _account_of(row: SyncStateRow | None) -> Account | None:
    if row is None or not row.signed_in:
        return None
    return Account(row.server_url, row.user, row.device_id, row.device_name or "", bool(row.encrypted))


def _state(s: Session) -> SyncStateRow:
    row = s.get(SyncStateRow, 1)
    if row is None:
        row = SyncStateRow(id=1, cursor=0, next_op_id=1, signed_in=False, encrypted=False)
        s.add(row)
        s.flush()
    return row


class SyncStore:
    def __init__(self, db: Database, bus: ChangeBus | None = None):
        self.db = db
        self.bus = bus or ChangeBus()

    def _publish(self) -> None:
        self.bus.publish(Changes(sync=True))

    # -- reads -------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        def read(s: Session) -> SyncStatus:
            row = s.get(SyncStateRow, 1)
            pending = s.scalar(select(func.count()).select_from(SyncOutboxRow)) or 0
            if row is None:
                return SyncStatus(False, None, None, None, None, pending, 0, False, None, None)
            return SyncStatus(bool(row.signed_in), row.server_url, row.user, row.device_id, row.device_name,
                              pending, row.cursor, bool(row.encrypted), row.last_sync_at, row.last_error)  # fmt: skip

        return self.db.call(read)

    def account(self) -> Account | None:
        return self.db.call(lambda s: _account_of(s.get(SyncStateRow, 1)))

    def round_state(self) -> RoundState:
        def read(s: Session) -> RoundState:
            row = s.get(SyncStateRow, 1)
            pending = s.scalar(select(func.count()).select_from(SyncOutboxRow)) or 0
            clock = Stamp.parse(row.clock).wall_ms if row is not None and row.clock else 0
            return RoundState(_account_of(row), row.cursor if row is not None else 0, pending, clock)

        return self.db.call(read)

    def device_id(self) -> str:
        """This device's id, made once and kept across sign-outs."""

        def read(s: Session) -> str:
            row = _state(s)
            if row.device_id is None:
                row.device_id = str(uuid.uuid4())
            return row.device_id

        return self.db.call(read)

    def pending(self, limit: int) -> list[Operation]:
        """The oldest ``limit`` operations waiting to be sent, in the order they were made."""

        def read(s: Session) -> list[Operation]:
            rows = s.execute(select(SyncOutboxRow).order_by(SyncOutboxRow.op_id).limit(limit)).scalars()
            return [Operation(r.op_id, r.table_name, r.row_id, r.kind, r.field, r.value, r.hlc) for r in rows]

        return self.db.call(read)

    def clock(self) -> HybridClock:
        def read(s: Session) -> HybridClock:
            row = _state(s)
            return HybridClock(row.device_id, last=Stamp.parse(row.clock) if row.clock else None)

        return self.db.call(read)

    # -- writes ------------------------------------------------------------------------------

    def sign_in(
        self,
        server_url: str,
        user: str,
        device_name: str,
        last_op_id: int,
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Signed in: capture starts, and what changed while signed out is recorded now (everything,
        the first time). Another account or server starts afresh. Returns how many operations wait."""

        def write(s: Session) -> int:
            row = _state(s)
            if (row.server_url, row.user) != (server_url, user):  # another account: send everything
                s.execute(delete(SyncOutboxRow))
                s.execute(delete(SyncRegisterRow))
                row.cursor, row.encrypted = 0, False
            row.server_url, row.user, row.device_name = server_url, user, device_name
            row.next_op_id = max(row.next_op_id or 1, last_op_id + 1)
            row.signed_in, row.last_error = True, None
            s.flush()
            _snapshot(s, progress)
            return s.scalar(select(func.count()).select_from(SyncOutboxRow)) or 0

        waiting = self.db.call(write)
        self._publish()
        return waiting

    def sign_out(self) -> None:
        """Capture stops; waiting operations stay for the next sign-in to the same account."""

        def write(s: Session) -> None:
            row = _state(s)
            row.signed_in = False

        self.db.call(write)
        self._publish()

    def set_encrypted(self, encrypted: bool) -> None:
        self.db.call(lambda s: setattr(_state(s), "encrypted", encrypted))
        self._publish()

    def sent(self, op_ids: list[int]) -> None:
        """The server has answered for these operations: off the outbox."""
        self.db.call(lambda s: s.execute(delete(SyncOutboxRow).where(SyncOutboxRow.op_id.in_(op_ids))))
        self._publish()

    def pulled(self, cursor: int, newest_hlc: str | None, *, done: bool = False) -> None:
        """A page was applied: move the cursor past it and take in its newest stamp; ``done``: it was
        the last page, the round ended well (when, and no error)."""

        def write(s: Session) -> None:
            row = _state(s)
            if newest_hlc:
                clock = HybridClock(row.device_id, last=Stamp.parse(row.clock) if row.clock else None)
                clock.observe(newest_hlc)
                row.clock = str(clock.last)
            row.cursor = cursor
            if done:
                row.last_sync_at, row.last_error = utcnow(), None

        self.db.call(write)
        if done:
            self._publish()

    def finished(self, error: str | None) -> None:
        """A sync ended: when, and the one sentence that says what went wrong (None: nothing)."""

        def write(s: Session) -> None:
            row = _state(s)
            if error is None:
                row.last_sync_at = utcnow()
            row.last_error = error

        self.db.call(write)
        self._publish()

    def restamp(self) -> int:
        """Give every waiting operation a new stamp (after the server refused a clock far ahead, and the
        clock was set right): same operations, stamps from now. Returns how many."""

        def write(s: Session) -> int:
            row = _state(s)
            clock = HybridClock(row.device_id)  # from the wall clock, not the stamps that were ahead
            ops = s.execute(select(SyncOutboxRow).order_by(SyncOutboxRow.op_id)).scalars().all()
            for op in ops:
                op.hlc = str(clock.tick())
                s.execute(
                    update(SyncRegisterRow)
                    .where(SyncRegisterRow.table_name == op.table_name, SyncRegisterRow.row_id == op.row_id,
                           SyncRegisterRow.field == (op.field if op.kind == "set" else INSERTED))
                    .values(hlc=op.hlc)
                )  # fmt: skip
            row.clock = str(clock.last)
            return len(ops)

        return self.db.call(write)


def _snapshot(s: Session, progress: Callable[[str], None] | None) -> int:
    """Record every synced field whose value is not what this device last sent or applied."""
    conn = s.connection()
    total = 0
    for table in TABLES:
        known: dict[str, dict[str, Any]] = {}
        for row_id, field, value in conn.execute(
            select(SyncRegisterRow.row_id, SyncRegisterRow.field, SyncRegisterRow.value).where(
                SyncRegisterRow.table_name == table
            )
        ):
            known.setdefault(row_id, {})[field] = value
        pending: list[Pending] = []
        for values in all_rows(conn, table):
            if is_held(table, values):
                continue
            registers = known.get(values["id"])
            if registers is None or INSERTED not in registers:
                pending += row_ops(table, values)
                continue
            for name in sorted(TABLES[table].mutable):
                value = encode(values.get(name))
                if registers.get(name, None) != value and not (name not in registers and value is None):
                    pending.append(Pending(table, values["id"], "set", name, value))
        if pending:
            total += record(conn, pending, always=True)
            if progress:
                progress(f"{table}: {len(pending):,} changes to send")
    return total


__all__ = ["HELD", "Account", "RoundState", "SyncStatus", "SyncStore"]
