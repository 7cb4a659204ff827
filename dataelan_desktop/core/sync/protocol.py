"""The sync protocol's vocabulary: operations pushed, changes pulled, and the limits both sides obey.

An operation is (device op id, table, row id, kind, field, value, stamp):
- ``insert`` writes a row's immutable fields once (``value`` is a dict of them); a row inserted
  again, from any device, keeps its first fields — messages merge by union and never conflict;
- ``set`` writes one mutable field, a last-writer-wins register ordered by the stamp.
A change is what a pull returns: the same shape with the server's ``seq`` instead of the op id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from .clock import ClockError, Stamp, device_key, now_ms
from .schema import TABLES

#: bumped when either side would misread the other; the server says which version it speaks
PROTOCOL_VERSION = 1
PROTOCOL_HEADER = "X-Dataelan-Protocol"

MAX_OPS_PER_PUSH = 5000
MAX_PUSH_BYTES = 8 * 1024 * 1024
MAX_PULL_LIMIT = 5000
#: a stamp further ahead of the server's clock than this is refused (not clamped: a clamped stamp
#: would differ from the one the device keeps, and devices would disagree on who wrote last)
MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000

Kind = Literal["insert", "set"]


class ProtocolError(ValueError):
    """An operation or change that breaks the protocol; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Operation:
    op_id: int
    table: str
    row_id: str
    kind: Kind
    field: str | None
    value: Any
    hlc: str

    def to_json(self) -> dict[str, Any]:
        return {
            "op_id": self.op_id, "table": self.table, "row_id": self.row_id, "kind": self.kind,
            "field": self.field, "value": self.value, "hlc": self.hlc,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operation:
        return cls(**{k: data.get(k) for k in cls.__slots__})


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    table: str
    row_id: str
    kind: Kind
    field: str | None
    value: Any
    hlc: str

    def to_json(self) -> dict[str, Any]:
        # (not dataclasses.asdict: it deep-copies every value, and a first sync sends 100,000 of these)
        return {
            "seq": self.seq, "table": self.table, "row_id": self.row_id, "kind": self.kind,
            "field": self.field, "value": self.value, "hlc": self.hlc,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        return cls(**{k: data.get(k) for k in cls.__slots__})


def canonical_uuid(value: str) -> str:
    try:
        text = str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise ProtocolError(f"{value!r} is not a UUID") from None
    if text != value:
        raise ProtocolError(f"{value!r} must be written as a lowercase UUID ({text})")
    return text


def validate(
    op: Operation | Change,
    device_id: str | None = None,
    server_now_ms: int | None = None,
    max_ahead_ms: int = MAX_CLOCK_AHEAD_MS,
) -> Stamp:
    """Check an operation against the declared schema; returns its stamp or raises ProtocolError.

    ``device_id`` (the pushing device) must be the stamp's device; ``server_now_ms`` refuses stamps
    from a clock running more than ``max_ahead_ms`` ahead.
    """
    spec = TABLES.get(op.table)
    if spec is None:
        raise ProtocolError(f"{op.table!r} is not a synced table")
    canonical_uuid(op.row_id)
    try:
        stamp = Stamp.parse(op.hlc)
    except ClockError as err:
        raise ProtocolError(str(err)) from None
    if device_id is not None and stamp.device != device_key(device_id):
        raise ProtocolError("an operation's stamp must carry the device that pushes it")
    if server_now_ms is not None and stamp.wall_ms > server_now_ms + max_ahead_ms:
        ahead = (stamp.wall_ms - server_now_ms) / 60000
        raise ProtocolError(
            f"this device's clock is {ahead:.0f} minutes ahead of the server's; "
            "set the clock right and sync again"
        )
    if op.kind == "insert":
        if op.field is not None or not isinstance(op.value, dict):
            raise ProtocolError("an insert carries its fields as one object, and no field name")
        unknown = set(op.value) - spec.immutable
        if unknown:
            raise ProtocolError(f"{op.table} has no immutable field(s) {', '.join(sorted(unknown))}")
    elif op.kind == "set":
        if op.field not in spec.mutable:
            raise ProtocolError(f"{op.table}.{op.field} is not a field that can be changed")
    else:
        raise ProtocolError(f"unknown operation kind {op.kind!r}")
    return stamp


def server_now() -> int:
    return now_ms()
