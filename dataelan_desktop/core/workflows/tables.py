"""The workflow tables (written only by core/workflows/store.py): definitions, runs, and one row per
step, map item and attempt of a run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db.tables import Base, Stamped


class WorkflowDefinition(Stamped, Base):
    """A named, versioned workflow: its YAML as the person wrote it (comments kept)."""

    __tablename__ = "workflows"

    name: Mapped[str] = mapped_column(String(200))  # unique among live rows, case-insensitively (in code)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 on every save that changes the YAML
    yaml: Mapped[str] = mapped_column(Text)
    #: the shipped example's key; kept after a delete so a removed example is never seeded again
    builtin_key: Mapped[str | None] = mapped_column(String(100), default=None, unique=True, index=True)


class WorkflowRun(Stamped, Base):
    """One run: the definition it ran (so a resume runs the same one), its inputs, status, outputs."""

    __tablename__ = "workflow_runs"

    workflow_id: Mapped[str | None] = mapped_column(
        String(36), default=None, index=True
    )  # None: run from a file
    workflow_name: Mapped[str] = mapped_column(String(200))
    workflow_version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: running | waiting (a person's answer) | complete | failed | cancelled | interrupted
    status: Mapped[str] = mapped_column(String(16), default="running")
    #: "host:pid" of the process running it, to tell a live run from one cut off
    owner: Mapped[str | None] = mapped_column(String(120), default=None)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    #: a re-run from a step: the run whose earlier outputs it reused, and the step it started over from
    parent_run_id: Mapped[str | None] = mapped_column(String(36), default=None)
    from_step: Mapped[str | None] = mapped_column(String(64), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WorkflowStepRecord(Stamped, Base):
    """One attempt of one step (of one map item): what went in, what came out, and its measurements."""

    __tablename__ = "workflow_steps"
    __table_args__ = (Index("ix_workflow_steps_run_step", "run_id", "step_id"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id"))
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    map_step: Mapped[str | None] = mapped_column(String(64), default=None)  # the map a sub-step belongs to
    item_index: Mapped[int | None] = mapped_column(Integer, default=None)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: running | complete | failed | skipped | waiting | cancelled | interrupted
    status: Mapped[str] = mapped_column(String(16), default="running")
    input: Mapped[str | None] = mapped_column(Text, default=None)  # the rendered prompt (or text, or item)
    output: Mapped[str | None] = mapped_column(Text, default=None)
    output_data: Mapped[Any | None] = mapped_column(JSON, default=None)  # a JSON value (a map's list)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    model: Mapped[str | None] = mapped_column(String(300), default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    cost: Mapped[float | None] = mapped_column(Float, default=None)
    ttft_ms: Mapped[float | None] = mapped_column(Float, default=None)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
    #: copied from an earlier run (a re-run from a later step), not run again
    reused: Mapped[bool] = mapped_column(Boolean, default=False)
