"""A run's step records, written behind the run: each attempt's rows are queued and written in order,
many to a transaction, on the database's thread. The engine never waits for a record on its way to
the next step; a run ends only once all of them are on disk.

Ordering is what resume relies on: a step's "complete" row is queued before anything that used its
output is queued, and the queue is written in order, so whatever the database holds after a crash is
a prefix of what happened. Records wait at most GATHER_SECONDS to share a transaction; a human step's
question is written at once (it must survive a restart before anyone answers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..db.tables import new_id
from .store import WorkflowStore

#: seconds a record may wait to share a transaction with the next ones (chat saves a streaming reply
#: every 250 ms; a step's record is on disk within this much of the step's end)
GATHER_SECONDS = 0.1


class RecordWriter:
    def __init__(self, store: WorkflowStore, run_id: str):
        self.store = store
        self.run_id = run_id
        self._queue: list[tuple[str, str, dict[str, Any]]] = []
        self._flushing: asyncio.Task | None = None
        self._hurry = asyncio.Event()  # set by drain: write what is queued now, without gathering more
        self.failure: BaseException | None = None

    def begin(self, step_id: str, kind: str, **fields: Any) -> str:
        """A new attempt's row (``fields``: attempt, map_step, item_index, status, input, output…). Its id."""
        record_id = new_id()
        self._put(("begin", record_id, {"run_id": self.run_id, "step_id": step_id, "kind": kind, **fields}))
        return record_id

    def finish(self, record_id: str, **fields: Any) -> None:
        self._put(("finish", record_id, fields))

    def _put(self, op: tuple[str, str, dict[str, Any]]) -> None:
        self._queue.append(op)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            if not self._hurry.is_set():  # steps that end meanwhile share one transaction
                try:
                    await asyncio.wait_for(self._hurry.wait(), GATHER_SECONDS)
                except TimeoutError:
                    pass
            batch, self._queue = self._queue, []
            try:
                await self.store.db.in_thread(self.store.write_records, batch)
            except Exception as exc:  # said when the run ends (drain), not lost in a task
                self.failure = exc
                return

    async def drain(self) -> None:
        """Until every queued record is on disk; raises the first write that failed."""
        self._hurry.set()
        try:
            await self._drain()
        finally:
            self._hurry.clear()

    async def _drain(self) -> None:
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)
            if self._queue and (self._flushing is None or self._flushing.done()):
                self._flushing = asyncio.ensure_future(self._flush())
        if self.failure is not None:
            raise self.failure
