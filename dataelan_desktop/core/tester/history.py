"""Saving comparisons and votes, reopening them, and turning a column into a conversation."""

from __future__ import annotations

import random
from collections.abc import Sequence

from sqlalchemy import select

from ..chat.store import ChatStore
from ..db import Database
from ..db.tables import Conversation, Message, TesterRun, TesterVote
from .ratings import Vote, score
from .runner import ColumnResult


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
) -> str:
    def write(s) -> str:
        run = TesterRun(kind=kind, prompt=prompt, system_prompt=system, category=category, blind=blind,
                        settings=settings or {}, columns=[c.record() for c in columns])  # fmt: skip
        s.add(run)
        s.flush()
        return run.id

    return db.call(write)


def runs(db: Database, limit: int = 50) -> list[TesterRun]:
    return db.call(
        lambda s: list(
            s.scalars(
                select(TesterRun)
                .where(TesterRun.deleted_at.is_(None))
                .order_by(TesterRun.created_at.desc())
                .limit(limit)
            )
        )
    )


def get_run(db: Database, run_id: str) -> TesterRun:
    run = db.call(lambda s: s.get(TesterRun, run_id))
    if run is None or run.deleted_at is not None:
        raise LookupError(f"No tester run {run_id}.")
    return run


def blind_order(count: int, seed: int | None = None) -> list[int]:
    """A shuffled column order for blind mode (the seed is kept with the run to show it again)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def record_vote(db: Database, run_id: str, left_model: str, right_model: str, outcome: str) -> Vote:
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
    return Vote(left_model, right_model, outcome, run.category)


def votes(db: Database) -> list[Vote]:
    rows = db.call(
        lambda s: list(
            s.scalars(
                select(TesterVote).where(TesterVote.deleted_at.is_(None)).order_by(TesterVote.created_at)
            )
        )
    )
    return [Vote(v.left_model, v.right_model, v.outcome, v.category) for v in rows]


def continue_in_chat(store: ChatStore, run_id: str, column_index: int) -> str:
    """A normal conversation holding the prompt and that column's reply, with that model."""
    run = get_run(store.db, run_id)
    column = run.columns[column_index]

    def write(s) -> str:
        conversation = Conversation(title=(run.prompt.strip().splitlines() or ["Comparison"])[0][:60], title_is_automatic=False,
                                    model=column["model"], system_prompt=run.system_prompt)  # fmt: skip
        s.add(conversation)
        s.flush()
        user = Message(conversation_id=conversation.id, role="user", content=run.prompt)
        s.add(user)
        s.flush()
        reply = Message(conversation_id=conversation.id, parent_id=user.id, role="assistant", content=column["text"],
                        model=column["model"], status="complete" if column["status"] == "complete" else "failed",
                        error=column.get("error"), input_tokens=column.get("input_tokens"),
                        output_tokens=column.get("output_tokens"), ttft_ms=column.get("ttft_ms"),
                        duration_ms=column.get("total_ms"))  # fmt: skip
        s.add(reply)
        s.flush()
        conversation.current_leaf_id = reply.id
        return conversation.id

    conversation_id = store.db.call(write)
    from ..changes import Changes

    store.bus.publish(Changes(conversation_list=True))
    return conversation_id
