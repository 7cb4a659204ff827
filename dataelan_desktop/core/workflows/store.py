"""The workflows' store: the one writer of ``workflows``, ``workflow_runs`` and ``workflow_steps``.

Definitions are saved only once they pass every check (schema, graph, models); runs are written
as they go, a row per step attempt from before it starts, so that a process killed mid-run
leaves a record that the next start marks interrupted and a resume continues.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..changes import ChangeBus, Changes
from ..db import Database
from .definition import Workflow, WorkflowError
from .load import ModelCheck, load
from .tables import WorkflowDefinition, WorkflowRun, WorkflowStepRecord
from .views import RunDetail, RunView, StepRecordView, WorkflowView

log = logging.getLogger(__name__)

#: every column a bulk insert of step records must give (all rows of one insert have the same keys)
_STEP_DEFAULTS: dict[str, Any] = {
    "map_step": None, "item_index": None, "attempt": 1, "status": "running", "input": None, "output": None,
    "output_data": None, "error": None, "model": None, "input_tokens": None, "output_tokens": None,
    "cost": None, "ttft_ms": None, "duration_ms": None, "reused": False, "deleted_at": None,
}  # fmt: skip

#: runs this process is executing now: a run owned by this process but not here was cut off
_LIVE: set[str] = set()

BUILTIN_FOLDER = "workflows"
SUFFIX = ".workflow.yaml"
#: fields of a step record that finish_step may set
STEP_FIELDS = frozenset(
    {"status", "output", "output_data", "error", "model", "input_tokens", "output_tokens", "cost", "ttft_ms",
     "duration_ms", "input"}
)  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def _alive(session: Session) -> list[WorkflowDefinition]:
    return list(session.scalars(select(WorkflowDefinition).where(WorkflowDefinition.deleted_at.is_(None))))


def _find(session: Session, name_or_id: str) -> WorkflowDefinition:
    rows = _alive(session)
    wanted = " ".join((name_or_id or "").split())
    for row in rows:
        if row.id == wanted or row.name.casefold() == wanted.casefold():
            return row
    import difflib  # only on a miss

    close = difflib.get_close_matches(wanted, [r.name for r in rows], n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else " `dataelan workflow list` shows every name."
    raise LookupError(f"No workflow named '{wanted}'.{hint}")


class WorkflowStore:
    def __init__(
        self,
        db: Database,
        bus: ChangeBus | None = None,
        check_model: ModelCheck | None = None,
        check_template: ModelCheck | None = None,
    ):
        self.db = db
        self.bus = bus or ChangeBus()
        #: refuses a model that does not exist (set from the provider registry: see models.py)
        self.check_model = check_model
        #: refuses a `template:` step naming a library template that does not exist
        self.check_template = check_template
        self.builtin_folder: Path | None = None  # None: resources/workflows (tests point elsewhere)
        self._seeded = False
        self._seed_lock = threading.Lock()

    def _publish(self, changes: Changes) -> None:
        self.bus.publish(changes)

    def apply_remote(self, changes: Any) -> Changes:
        """Merge workflow definitions pulled from the sync server (core/sync/apply.py decides what to
        write by the merge rules; this store, their one writer, writes it)."""
        from ..sync.apply import remote_writes  # sync's edge: loaded once signed in

        def write(s: Session) -> None:
            for statement, params in remote_writes(s, changes):
                s.execute(statement, params)

        self.db.call(write)
        self._publish(Changes(workflows=True))
        return Changes(workflows=True)

    # -- definitions ---------------------------------------------------------------------------

    def check(self, text: str) -> Workflow:
        """The workflow in ``text`` if it passes every check; else WorkflowError with one message."""
        return load(text, check_model=self.check_model, check_template=self.check_template)

    def list(self) -> list[WorkflowView]:
        self._seed_once()
        rows = [WorkflowView.of(r) for r in self.db.call(_alive)]
        return sorted(rows, key=lambda w: (w.name.casefold(), w.name))

    def get(self, name_or_id: str) -> WorkflowView:
        self._seed_once()
        return WorkflowView.of(self.db.call(lambda s: _find(s, name_or_id)))

    def builtin(self, key: str) -> WorkflowView | None:
        """The live workflow seeded from the shipped example ``key`` (edits included), if any."""
        self._seed_once()

        def find(s: Session) -> WorkflowView | None:
            row = s.scalars(select(WorkflowDefinition).where(WorkflowDefinition.builtin_key == key,
                                                             WorkflowDefinition.deleted_at.is_(None))).first()  # fmt: skip
            return WorkflowView.of(row) if row is not None else None

        return self.db.call(find)

    def save(self, text: str, workflow_id: str | None = None) -> WorkflowView:
        """Create a workflow (or replace ``workflow_id``'s YAML) after every check; the version goes up
        by one when the YAML changed. Nothing is written when a check fails."""
        self._seed_once()
        workflow = self.check(text)

        def write(s: Session) -> WorkflowView:
            row = _find(s, workflow_id) if workflow_id else None
            for other in _alive(s):
                if other.name.casefold() == workflow.name.casefold() and (row is None or other.id != row.id):
                    raise WorkflowError(
                        f"A workflow named '{other.name}' already exists. Rename this one (its name: line) "
                        "or edit that one."
                    )
            if row is None:
                row = WorkflowDefinition(name=workflow.name, yaml=text, version=1)
                s.add(row)
            elif row.yaml != text:
                row.name, row.yaml, row.version = workflow.name, text, row.version + 1
            row.description = workflow.description
            s.flush()
            return WorkflowView.of(row)

        view = self.db.call(write)
        self._publish(Changes(workflows=True))
        return view

    def import_file(self, path: Path | str, *, replace: bool = False) -> WorkflowView:
        """A ``.workflow.yaml`` file as a saved workflow (``replace``: a new version of the same name)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise WorkflowError(f"{path.name} is not UTF-8 text.") from None
        workflow = self.check(text)
        existing = None
        if replace:
            existing = next((w for w in self.list() if w.name.casefold() == workflow.name.casefold()), None)
        return self.save(text, existing.id if existing else None)

    def delete(self, name_or_id: str) -> None:
        """Soft delete (kept for sync, and so a shipped example is not seeded again)."""

        def write(s: Session) -> None:
            _find(s, name_or_id).deleted_at = _now()

        self.db.call(write)
        self._publish(Changes(workflows=True))

    # -- the shipped examples ------------------------------------------------------------------

    def ensure_builtin(self) -> int:
        """Add the shipped examples not yet in the database (never one the person deleted)."""
        folder = self.builtin_folder or _default_folder()
        entries = []
        for file in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
            text = file.read_text(encoding="utf-8")
            try:
                workflow = load(text)  # shape and graph; models are the person's to choose at run time
            except WorkflowError as exc:
                log.warning("shipped workflow %s skipped: %s", file.name, exc)
                continue
            entries.append((file.name[: -len(SUFFIX)], workflow, text))

        def seed(s: Session) -> int:
            known = set(
                s.scalars(
                    select(WorkflowDefinition.builtin_key).where(WorkflowDefinition.builtin_key.is_not(None))
                )
            )
            taken = {r.name.casefold() for r in _alive(s)}
            added = 0
            for key, workflow, text in entries:
                if key in known or workflow.name.casefold() in taken:
                    continue
                s.add(WorkflowDefinition(name=workflow.name, description=workflow.description, yaml=text,
                                         version=1, builtin_key=key))  # fmt: skip
                taken.add(workflow.name.casefold())
                added += 1
            return added

        try:
            added = self.db.call(seed)
        except IntegrityError:  # another process seeded them just now
            added = 0
        self._seeded = True
        if added:
            self._publish(Changes(workflows=True))
        return added

    def _seed_once(self) -> None:
        if self._seeded:
            return
        with self._seed_lock:
            if not self._seeded:
                try:
                    self.ensure_builtin()
                except OSError as exc:  # a broken install must not hide the person's own workflows
                    log.warning("shipped workflows not loaded: %s", exc)
                    self._seeded = True

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        workflow: Workflow,
        definition: str,
        inputs: Mapping[str, Any],
        owner: str,
        *,
        workflow_id: str | None = None,
        parent_run_id: str | None = None,
        from_step: str | None = None,
    ) -> str:
        def write(s: Session) -> str:
            row = WorkflowRun(workflow_id=workflow_id, workflow_name=workflow.name, workflow_version=workflow.version,
                              definition=definition, inputs=dict(inputs), status="running", owner=owner,
                              parent_run_id=parent_run_id, from_step=from_step, outputs={})  # fmt: skip
            s.add(row)
            s.flush()
            return row.id

        run_id = self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({run_id})))
        return run_id

    def claim_run(self, run_id: str, owner: str) -> RunView:
        """Take a run over to resume it: refused while another live process runs it, or once complete."""
        from ..db.engine import process_alive

        def write(s: Session) -> RunView:
            row = self._run_row(s, run_id)
            if row.status == "running" and row.owner != owner and process_alive(row.owner):
                raise WorkflowError(f"Run {run_id} is still running (process {row.owner}).")
            if row.status == "complete":
                raise WorkflowError(
                    f"Run {run_id} is complete: nothing to resume. Re-run it from a step instead."
                )
            s.execute(update(WorkflowStepRecord).where(WorkflowStepRecord.run_id == row.id,
                                                       WorkflowStepRecord.status == "running")
                      .values(status="interrupted"))  # fmt: skip
            row.status, row.owner, row.error, row.finished_at = "running", owner, None, None
            return RunView.of(row)

        view = self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({view.id})))
        return view

    def finish_run(
        self, run_id: str, status: str, outputs: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        def write(s: Session) -> None:
            row = self._run_row(s, run_id)
            row.status, row.error, row.owner = status, error, None
            if outputs is not None:
                row.outputs = dict(outputs)
            if status != "waiting":
                row.finished_at = _now()
            # attempts cut short with the run (a cancel) say so
            s.execute(update(WorkflowStepRecord).where(WorkflowStepRecord.run_id == run_id,
                                                       WorkflowStepRecord.status == "running")
                      .values(status="cancelled" if status == "cancelled" else "interrupted"))  # fmt: skip

        self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({run_id})))

    def begin_step(
        self,
        run_id: str,
        step_id: str,
        kind: str,
        *,
        attempt: int = 1,
        map_step: str | None = None,
        item_index: int | None = None,
        input: str | None = None,
        model: str | None = None,
        status: str = "running",
        **fields: Any,
    ) -> str:
        """The attempt's row, written before it starts (status running), or whole when it called nothing
        (``fields``: its output and measurements). Returns its id."""
        unknown = set(fields) - STEP_FIELDS
        if unknown:
            raise ValueError(f"unknown step fields: {', '.join(sorted(unknown))}")

        def write(s: Session) -> str:
            row = WorkflowStepRecord(run_id=run_id, step_id=step_id, kind=kind, attempt=attempt, map_step=map_step,
                                     item_index=item_index, input=input, model=model, status=status, **fields)  # fmt: skip
            s.add(row)
            s.flush()
            return row.id

        return self.db.call(write)

    def finish_step(self, record_id: str, **fields: Any) -> None:
        unknown = set(fields) - STEP_FIELDS
        if unknown:
            raise ValueError(f"unknown step fields: {', '.join(sorted(unknown))}")

        def write(s: Session) -> str:
            row = s.get(WorkflowStepRecord, record_id)
            if row is None:
                raise LookupError(f"No step record {record_id}.")
            for key, value in fields.items():
                setattr(row, key, value)
            return row.run_id

        run_id = self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({run_id})))

    def write_records(self, ops: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Step records in one transaction, in order: ("begin", id, columns) adds a row with that id,
        ("finish", id, fields) changes one (see records.py, which queues them behind a run). A row
        begun and finished in the same batch is inserted once, finished; new rows go in as one
        multi-row insert (a 100-step run writes a handful of statements, not 200 flushes)."""
        keys = {"run_id", "step_id", "kind", "attempt", "map_step", "item_index"}
        new: dict[str, dict[str, Any]] = {}  # id → the columns of a row begun in this batch
        changes: dict[str, dict[str, Any]] = {}  # id → fields of a row written before this batch
        for op, record_id, fields in ops:
            unknown = set(fields) - keys - STEP_FIELDS
            if unknown:
                raise ValueError(f"unknown step fields: {', '.join(sorted(unknown))}")
            if op == "begin":
                new[record_id] = {"id": record_id, **_STEP_DEFAULTS, **fields}
            elif record_id in new:
                new[record_id].update(fields)
            else:
                changes.setdefault(record_id, {}).update(fields)
        runs = {row["run_id"] for row in new.values()}

        def write(s: Session) -> None:
            if new:
                now = _now()
                s.execute(
                    insert(WorkflowStepRecord),
                    [{"created_at": now, "updated_at": now, **row} for row in new.values()],
                )
            for record_id, fields in changes.items():
                row = s.get(WorkflowStepRecord, record_id)
                if row is None:
                    raise LookupError(f"No step record {record_id}.")
                for key, value in fields.items():
                    setattr(row, key, value)
                runs.add(row.run_id)

        self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset(runs)))

    def copy_steps(self, from_run: str, to_run: str, keys: set[tuple[str, int | None]]) -> int:
        """The finished attempts of ``keys`` in ``from_run`` as reused rows of ``to_run`` (a re-run from a step)."""

        def write(s: Session) -> int:
            rows = s.scalars(select(WorkflowStepRecord).where(WorkflowStepRecord.run_id == from_run)
                             .order_by(WorkflowStepRecord.created_at)).all()  # fmt: skip
            latest: dict[tuple[str, int | None], WorkflowStepRecord] = {}
            for row in rows:
                latest[(row.step_id, row.item_index)] = row
            copied = 0
            for key, row in latest.items():
                if key in keys and row.status in ("complete", "skipped"):
                    s.add(WorkflowStepRecord(
                        run_id=to_run, step_id=row.step_id, kind=row.kind, map_step=row.map_step,
                        item_index=row.item_index, attempt=1, status=row.status, input=row.input,
                        output=row.output, output_data=row.output_data, error=row.error, model=row.model,
                        input_tokens=row.input_tokens, output_tokens=row.output_tokens, cost=row.cost,
                        ttft_ms=row.ttft_ms, duration_ms=row.duration_ms, reused=True,
                    ))  # fmt: skip
                    copied += 1
            return copied

        copied = self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({to_run})))
        return copied

    def delete_run(self, run_id: str) -> None:
        def write(s: Session) -> None:
            self._run_row(s, run_id).deleted_at = _now()

        self.db.call(write)
        self._publish(Changes(workflow_runs=frozenset({run_id})))

    # -- reading runs --------------------------------------------------------------------------

    @staticmethod
    def _run_row(s: Session, run_id: str) -> WorkflowRun:
        row = s.get(WorkflowRun, run_id)
        if row is None or row.deleted_at is not None:
            # a prefix is enough on the command line, as with git
            matches = s.scalars(select(WorkflowRun).where(WorkflowRun.id.startswith(run_id or "?"),
                                                          WorkflowRun.deleted_at.is_(None))).all()  # fmt: skip
            if len(matches) == 1 and len(run_id) >= 4:
                return matches[0]
            raise LookupError(f"No workflow run {run_id}. `dataelan workflow runs` lists them.")
        return row

    def run(self, run_id: str) -> RunView:
        return self.db.call(lambda s: RunView.of(self._run_row(s, run_id)))

    def detail(self, run_id: str) -> RunDetail:
        def read(s: Session) -> RunDetail:
            run = self._run_row(s, run_id)
            rows = s.scalars(select(WorkflowStepRecord).where(WorkflowStepRecord.run_id == run.id)
                             .order_by(WorkflowStepRecord.created_at, WorkflowStepRecord.attempt)).all()  # fmt: skip
            return RunDetail(RunView.of(run), tuple(StepRecordView.of(r) for r in rows))

        return self.db.call(read)

    def runs(self, workflow: str | None = None, limit: int = 100) -> list[RunView]:
        """Newest first; runs cut off by a dead process are marked interrupted first."""
        self.mark_interrupted()

        def read(s: Session) -> list[RunView]:
            query = select(WorkflowRun).where(WorkflowRun.deleted_at.is_(None))
            if workflow:
                named = func.lower(WorkflowRun.workflow_name) == " ".join(workflow.split()).lower()
                query = query.where(named | (WorkflowRun.workflow_id == workflow))  # as typed on the CLI
            rows = s.scalars(query.order_by(WorkflowRun.created_at.desc()).limit(limit)).all()
            return [RunView.of(r) for r in rows]

        return self.db.call(read)

    def mark_interrupted(self) -> list[str]:
        """Runs still marked running whose process is gone become interrupted (their running attempt
        too). Returns their ids."""
        from ..db.engine import process_alive, this_process

        def fix(s: Session) -> list[str]:
            rows = s.execute(
                select(WorkflowRun.id, WorkflowRun.owner).where(WorkflowRun.status == "running")
            ).all()
            me = this_process()
            dead = [
                rid for rid, owner in rows if not process_alive(owner) or (owner == me and rid not in _LIVE)
            ]
            if dead:
                s.execute(update(WorkflowRun).where(WorkflowRun.id.in_(dead))
                          .values(status="interrupted", owner=None, error="The run was cut off (the app or command ended).")
                          )  # fmt: skip
                s.execute(update(WorkflowStepRecord).where(WorkflowStepRecord.run_id.in_(dead),
                                                           WorkflowStepRecord.status == "running")
                          .values(status="interrupted"))  # fmt: skip
            return dead

        dead = self.db.call(fix)
        if dead:
            self._publish(Changes(workflow_runs=frozenset(dead)))
        return dead

    def mark_live(self, run_id: str, live: bool) -> None:
        (_LIVE.add if live else _LIVE.discard)(run_id)


def _default_folder() -> Path:
    from .. import paths

    return paths.resources_dir() / BUILTIN_FOLDER
