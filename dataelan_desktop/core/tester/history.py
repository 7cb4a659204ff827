"""The tester's store: the one writer of ``tester_runs`` and ``tester_votes``.

Saving comparisons, batches and votes, reopening them, and turning a column into a
conversation (through the chat store, which owns conversations). Reads return plain views.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from ..changes import ChangeBus, Changes
from ..chat.store import ChatStore
from ..db import Database
from ..db.tables import TesterRun, TesterVote
from .ratings import Vote, score
from .runner import ColumnResult


@dataclass(frozen=True)
class RunView:
    """A saved comparison (``kind`` "compare") or batch (``kind`` "batch": ``settings`` holds its plan,
    ``columns`` its finished cells)."""

    id: str
    kind: str
    prompt: str
    system_prompt: str | None
    category: str | None
    blind: bool
    settings: Mapping[str, Any]
    columns: tuple[Mapping[str, Any], ...]
    created_at: datetime

    @classmethod
    def of(cls, row: TesterRun) -> RunView:
        return cls(row.id, row.kind, row.prompt, row.system_prompt, row.category, bool(row.blind),
                   dict(row.settings or {}), tuple(row.columns or ()), row.created_at)  # fmt: skip


def _publish(bus: ChangeBus | None) -> None:
    if bus is not None:
        bus.publish(Changes(tester=True))


def save_run(
    db: Database,
    prompt: str,
    columns: Sequence[ColumnResult],
    *,
    system: str | None = None,
    category: str | None = None,
    blind: bool = False,
    settings: dict | None = None,
    kind: str = "compare",
    bus: ChangeBus | None = None,
) -> str:
    return _add_run(
        db, bus, kind=kind, prompt=prompt, system_prompt=system, category=category, blind=blind,
        settings=settings or {}, columns=[c.record() for c in columns],
    )  # fmt: skip


def save_batch(db: Database, name: str, plan: Mapping[str, Any], *, bus: ChangeBus | None = None) -> str:
    """A batch run holding ``plan`` (models and prompts) and no cells yet; returns its id."""
    return _add_run(db, bus, kind="batch", prompt=name, settings=dict(plan), columns=[])


def _add_run(db: Database, bus: ChangeBus | None, **fields: Any) -> str:
    def write(s) -> str:
        run = TesterRun(**fields)
        s.add(run)
        s.flush()
        return run.id

    run_id = db.call(write)
    _publish(bus)
    return run_id


def apply_remote(db: Database, changes: Sequence[Any], *, bus: ChangeBus | None = None) -> Changes:
    """Merge tester runs and votes pulled from the sync server (core/sync/apply.py decides, this
    module, their one writer, writes)."""
    from ..sync.apply import remote_writes  # sync's edge: loaded once signed in

    def write(s) -> None:
        for statement, params in remote_writes(s, changes):
            s.execute(statement, params)

    db.call(write)
    _publish(bus)
    return Changes(tester=True)


def add_batch_cell(db: Database, run_id: str, cell: Mapping[str, Any]) -> None:
    """Append one finished cell. Runs on the database's one thread, so concurrent cells never
    overwrite each other."""

    def write(s) -> None:
        run = s.get(TesterRun, run_id)
        run.columns = [*run.columns, dict(cell)]
        flag_modified(run, "columns")

    db.call(write)


def runs(db: Database, limit: int = 50) -> list[RunView]:
    return db.call(
        lambda s: [
            RunView.of(row)
            for row in s.scalars(
                select(TesterRun)
                .where(TesterRun.deleted_at.is_(None))
                .order_by(TesterRun.created_at.desc())
                .limit(limit)
            )
        ]
    )


def get_run(db: Database, run_id: str) -> RunView:
    def read(s) -> RunView | None:
        row = s.get(TesterRun, run_id)
        return RunView.of(row) if row is not None and row.deleted_at is None else None

    run = db.call(read)
    if run is None:
        raise LookupError(f"No tester run {run_id}.")
    return run


def blind_order(count: int, seed: int | None = None) -> list[int]:
    """A shuffled column order for blind mode (the seed is kept with the run to show it again)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def record_vote(
    db: Database,
    run_id: str,
    left_model: str,
    right_model: str,
    outcome: str,
    *,
    bus: ChangeBus | None = None,
) -> Vote:
    score(outcome)  # validates
    run = get_run(db, run_id)

    def write(s) -> None:
        s.add(
            TesterVote(
                run_id=run_id,
                left_model=left_model,
                right_model=right_model,
                outcome=outcome,
                category=run.category,
            )
        )

    db.call(write)
    _publish(bus)
    return Vote(left_model, right_model, outcome, run.category)


def record_votes(
    db: Database, run_id: str, chosen: Sequence[Vote], *, bus: ChangeBus | None = None
) -> list[Vote]:
    """The pairwise votes one judgement of a run implies (best of N, a ranking, all tie), in one
    transaction: a judgement is saved whole or not at all."""
    if not chosen:
        raise ValueError("Nothing to vote on: a vote needs at least two columns.")
    for vote in chosen:
        score(vote.outcome)  # validates
    run = get_run(db, run_id)

    def write(s) -> None:
        for vote in chosen:
            s.add(TesterVote(run_id=run_id, left_model=vote.left, right_model=vote.right,
                             outcome=vote.outcome, category=run.category))  # fmt: skip

    db.call(write)
    _publish(bus)
    return [Vote(v.left, v.right, v.outcome, run.category) for v in chosen]


def votes(db: Database) -> list[Vote]:
    rows = db.call(
        lambda s: [
            (v.left_model, v.right_model, v.outcome, v.category)
            for v in s.scalars(
                select(TesterVote).where(TesterVote.deleted_at.is_(None)).order_by(TesterVote.created_at)
            )
        ]
    )
    return [Vote(*row) for row in rows]


def continue_in_chat(store: ChatStore, run_id: str, column_index: int) -> str:
    """A normal conversation holding the prompt and that column's reply, with that model."""
    run = get_run(store.db, run_id)
    column = run.columns[column_index]
    reply = dict(
        role="assistant", content=column["text"], model=column["model"],
        status="complete" if column["status"] == "complete" else "failed", error=column.get("error"),
        input_tokens=column.get("input_tokens"), output_tokens=column.get("output_tokens"),
        ttft_ms=column.get("ttft_ms"), duration_ms=column.get("total_ms"), generation_ms=column.get("generation_ms"),
        usage_estimated=bool(column.get("usage_estimated")), stop_reason=column.get("stop_reason"),
    )  # fmt: skip
    return store.create_filled_conversation(
        [dict(role="user", content=run.prompt), reply],
        title=(run.prompt.strip().splitlines() or ["Comparison"])[0][:60],
        model=column["model"],
        system_prompt=run.system_prompt,
    )
