"""An in-memory device: a replica, a clock, an outbox of operations and a pull cursor.

The property tests and the benchmark use it as a device; the app's SQLite-backed client keeps
the same four things in its database and follows the same steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .client import SyncClient
from .clock import HybridClock, now_ms
from .merge import Replica
from .protocol import MAX_OPS_PER_PUSH, Operation
from .seal import Sealer


class MemoryDevice:
    def __init__(
        self, device_id: str | None = None, wall: Callable[[], int] = now_ms, sealer: Sealer | None = None
    ):
        self.id = device_id or str(uuid.uuid4())
        self.clock = HybridClock(self.id, wall)
        self.replica = Replica()
        self.outbox: list[Operation] = []
        self.next_op_id = 1
        self.cursor = 0
        self.sealer = sealer

    # -- local changes: applied at once, queued for the server ----------------------------------
    def insert(self, table: str, fields: dict[str, Any], row_id: str | None = None) -> str:
        row_id = row_id or str(uuid.uuid4())
        self._record(table, row_id, "insert", None, fields)
        return row_id

    def set(self, table: str, row_id: str, field: str, value: Any) -> None:
        self._record(table, row_id, "set", field, value)

    def delete(self, table: str, row_id: str) -> None:
        self.set(table, row_id, "deleted_at", datetime.now(UTC).isoformat())

    def _record(self, table: str, row_id: str, kind: str, field: str | None, value: Any) -> None:
        op = Operation(self.next_op_id, table, row_id, kind, field, value, str(self.clock.tick()))
        self.next_op_id += 1
        self.replica.apply(op)
        self.outbox.append(op)

    # -- sync ---------------------------------------------------------------------------------
    def batches(self, size: int = MAX_OPS_PER_PUSH) -> list[list[Operation]]:
        return [self.outbox[i : i + size] for i in range(0, len(self.outbox), size)]

    def push_batch(self, client: SyncClient, ops: list[Operation]) -> None:
        """Send one batch; only once the server has answered are its operations taken off the outbox."""
        wire = [self.sealer.seal(op) for op in ops] if self.sealer else ops
        client.push(wire)
        sent = {op.op_id for op in ops}
        self.outbox = [op for op in self.outbox if op.op_id not in sent]

    def push(self, client: SyncClient, size: int = MAX_OPS_PER_PUSH) -> None:
        for batch in self.batches(size):
            self.push_batch(client, batch)

    def pull(self, client: SyncClient, limit: int = 2000) -> int:
        """Pull until the server has nothing newer; returns how many changes arrived."""
        arrived = 0
        while True:
            page = client.pull(self.cursor, limit)
            for change in page.changes:
                self.replica.apply(self.sealer.unseal(change) if self.sealer else change)
            if page.changes:  # stamps order as strings: observing the page's greatest is enough
                self.clock.observe(max(c.hlc for c in page.changes))
            arrived += len(page.changes)
            self.cursor = page.cursor  # only after the page is applied: a failure re-pulls it
            if not page.more:
                return arrived

    def sync(self, client: SyncClient) -> None:
        self.push(client)
        self.pull(client)
