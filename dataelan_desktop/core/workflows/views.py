"""Workflows, runs and step records as plain frozen data: safe to hand to any thread or widget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .tables import WorkflowDefinition, WorkflowRun, WorkflowStepRecord

#: a run in one of these may be resumed
RESUMABLE = ("failed", "cancelled", "interrupted", "waiting")


@dataclass(frozen=True)
class WorkflowView:
    id: str
    name: str
    description: str | None
    version: int
    yaml: str
    builtin: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: WorkflowDefinition) -> WorkflowView:
        return cls(row.id, row.name, row.description, row.version, row.yaml, row.builtin_key is not None,
                   row.updated_at)  # fmt: skip


@dataclass(frozen=True)
class RunView:
    id: str
    workflow_id: str | None
    workflow_name: str
    workflow_version: int
    definition: str
    inputs: Mapping[str, Any]
    status: str
    owner: str | None
    outputs: Mapping[str, Any]
    error: str | None
    parent_run_id: str | None
    from_step: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE

    @classmethod
    def of(cls, row: WorkflowRun) -> RunView:
        return cls(row.id, row.workflow_id, row.workflow_name, row.workflow_version, row.definition,
                   dict(row.inputs or {}), row.status, row.owner, dict(row.outputs or {}), row.error,
                   row.parent_run_id, row.from_step, row.created_at, row.finished_at)  # fmt: skip


@dataclass(frozen=True)
class StepRecordView:
    id: str
    run_id: str
    step_id: str
    kind: str
    map_step: str | None
    item_index: int | None
    attempt: int
    status: str
    input: str | None
    output: str | None
    output_data: Any
    error: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None
    ttft_ms: float | None
    duration_ms: float | None
    reused: bool
    created_at: datetime

    @property
    def key(self) -> tuple[str, int | None]:
        """Which step (and item) this is an attempt of."""
        return (self.step_id, self.item_index)

    @classmethod
    def of(cls, row: WorkflowStepRecord) -> StepRecordView:
        return cls(row.id, row.run_id, row.step_id, row.kind, row.map_step, row.item_index, row.attempt,
                   row.status, row.input, row.output, row.output_data, row.error, row.model,
                   row.input_tokens, row.output_tokens, row.cost, row.ttft_ms, row.duration_ms,
                   bool(row.reused), row.created_at)  # fmt: skip


@dataclass(frozen=True)
class RunDetail:
    """A run with every recorded attempt, oldest first."""

    run: RunView
    steps: tuple[StepRecordView, ...]

    def latest(self) -> dict[tuple[str, int | None], StepRecordView]:
        """The newest attempt of each step and item."""
        found: dict[tuple[str, int | None], StepRecordView] = {}
        for record in self.steps:
            found[record.key] = record
        return found
