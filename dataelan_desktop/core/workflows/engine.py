"""Running a workflow: steps as asyncio tasks, each starting once the steps it uses have finished.

Independent steps run concurrently; every attempt is recorded (store.py) before it starts, so a
run cut off is found interrupted and :meth:`WorkflowEngine.resume` continues it, reusing the
recorded outputs of finished steps and running the one that was running again. LLM steps call
the providers through the registry and fold their streams with ``fold`` like chat does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..db.engine import this_process
from ..providers.base import Provider
from ..providers.errors import ConfigurationError, ProviderError
from ..providers.reply import Reply, ReplyStatus, fold
from ..providers.retry import RetryPolicy, stream_with_retries
from ..providers.types import ChatMessage, ChatRequest, GenerationParams, StreamEvent, TextDelta
from .definition import Step, Workflow, WorkflowError
from .expr import ExpressionError, parse
from .graph import dependencies, downstream
from .inputs import resolve_inputs
from .load import load
from .records import RecordWriter
from .render import render
from .steps import StepFailure, check_output, choose_branch, schema_instruction, split_items, tool_arguments
from .store import WorkflowStore
from .tools import ToolCaller
from .values import Item, Scope, StepValue, show
from .views import RunDetail, StepRecordView

log = logging.getLogger(__name__)

#: a step's record is finished (its output reused by a resume) in one of these
FINISHED = ("complete", "skipped", "recovered")
MEASURES = ("model", "input_tokens", "output_tokens", "cost", "ttft_ms", "duration_ms")


@dataclass(frozen=True)
class StepEvent:
    """What a window or the CLI is told while a run goes: ``kind`` is started, text, retry, finished,
    waiting or run (the run ended: ``status`` is its status)."""

    run_id: str
    kind: str
    step_id: str | None = None
    item_index: int | None = None
    status: str | None = None
    text: str = ""  # a text delta (kind text), the error, or the output when finished
    record: StepRecordView | None = None
    stats: str | None = None  # the one stats line of an llm step's reply (as chat and the tester show it)
    #: what was measured (model, input_tokens, output_tokens, cost, ttft_ms, duration_ms), when finished
    measures: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class HumanRequest:
    run_id: str
    step_id: str
    prompt: str
    draft: str | None  # None: the person types a value; else they approve or edit this draft


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str
    outputs: Mapping[str, Any]
    error: str | None = None


Ask = Callable[[HumanRequest], Awaitable[str | None]]
ProviderFor = Callable[[str], Provider]


@dataclass
class _Settled:
    """How a step ended for the steps after it."""

    value: StepValue | None = None
    blocking: str | None = None  # failed | waiting | blocked: the steps after it do not run
    error: str | None = None


@dataclass
class _Run:
    id: str
    workflow: Workflow
    inputs: dict[str, Any]
    reuse: dict[tuple[str, int | None], StepRecordView] = field(default_factory=dict)
    waiting_records: dict[tuple[str, int | None], str] = field(default_factory=dict)
    settled: dict[str, _Settled] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)
    records: RecordWriter | None = None  # the run's step records, written behind it
    providers: dict[str, asyncio.Future[Provider]] = field(default_factory=dict)  # built once per run

    @property
    def writer(self) -> RecordWriter:
        assert self.records is not None
        return self.records

    def values(self) -> dict[str, StepValue]:
        return {sid: s.value for sid, s in self.settled.items() if s.value is not None}


class WorkflowEngine:
    def __init__(
        self,
        store: WorkflowStore,
        registry: Any = None,
        *,
        templates: Any = None,
        ask: Ask | None = None,
        on_event: Callable[[StepEvent], None] | None = None,
        provider_for: ProviderFor | None = None,
        tools: ToolCaller | None = None,
    ):
        self.store = store
        self.registry = registry  # a ProviderRegistry (provider_for replaces it in benchmarks)
        self.templates = templates  # a TemplateStore, for template steps that name a library template
        self.ask = ask
        self.on_event = on_event
        self._provider_for = provider_for
        self.tools = tools  # calls an agent tool for tool steps (see tools.py: tool_caller)
        self._redact = registry.secrets.redact if registry is not None else str

    # -- starting, resuming, re-running ------------------------------------------------------

    def prepare(self, definition: str, inputs: Mapping[str, Any]) -> tuple[Workflow, dict[str, Any]]:
        """The checked workflow and its input values: raises WorkflowError before anything is saved."""
        workflow = load(
            definition, check_model=self.store.check_model, check_template=self.store.check_template
        )
        values = resolve_inputs(workflow, inputs)
        self._check_model_inputs(workflow, values)
        return workflow, values

    def _check_model_inputs(self, workflow: Workflow, values: Mapping[str, Any]) -> None:
        """A model chosen as an input ({{inputs.model}}) is checked like a written one, before the run
        is recorded: an unknown model is one message, not a failed run that a resume would fail again."""
        check = self.store.check_model
        for spec in workflow.inputs:
            value = values.get(spec.name)
            if spec.type == "model" and check is not None and isinstance(value, str) and value.strip():
                problem = check(value.strip())
                if problem:
                    raise WorkflowError(f"The input '{spec.name}': {problem.rstrip('.')}.")

    async def start(
        self, definition: str, inputs: Mapping[str, Any], *, workflow_id: str | None = None, version: int = 1
    ) -> RunResult:
        # off the loop's thread: the model check reads the database (the loop may be a window's)
        workflow, values = await asyncio.to_thread(self.prepare, definition, inputs)
        workflow = _with_version(workflow, version)
        run_id = await self._db(self.store.create_run, workflow, definition, values, this_process(),
                                workflow_id=workflow_id)  # fmt: skip
        return await self._execute(_Run(run_id, workflow, values))

    def begin(self, definition: str, inputs: Mapping[str, Any], **kw: Any) -> asyncio.Task[RunResult]:
        """:meth:`start` as a task (a window keeps it to cancel)."""
        return asyncio.ensure_future(self.start(definition, inputs, **kw))

    async def resume(self, run_id: str) -> RunResult:
        """Continue a cancelled, failed, interrupted or waiting run: finished steps are reused, not run."""
        await self._db(self.store.mark_interrupted)
        detail: RunDetail = await self._db(self.store.detail, run_id)
        run = await self._db(self.store.claim_run, detail.run.id, this_process())
        workflow = _with_version(load(run.definition), run.workflow_version)
        state = _Run(run.id, workflow, dict(run.inputs))
        for key, record in detail.latest().items():
            if record.status in FINISHED:
                state.reuse[key] = record
            elif record.status == "waiting":
                state.waiting_records[key] = record.id
        return await self._execute(state)

    async def rerun_from(
        self, run_id: str, step_id: str, inputs: Mapping[str, Any] | None = None
    ) -> RunResult:
        """A new run that reuses the earlier run's outputs of every step not after ``step_id``, with
        ``inputs`` changed where given; ``step_id`` and the steps that use it run again."""
        earlier = await self._db(self.store.run, run_id)
        workflow = load(earlier.definition)
        workflow.step(step_id)  # a step of this workflow, or a clear error
        values = resolve_inputs(workflow, {**earlier.inputs, **(inputs or {})})
        await asyncio.to_thread(self._check_model_inputs, workflow, values)
        again = downstream(workflow, step_id)
        keep: set[tuple[str, int | None]] = set()
        detail: RunDetail = await self._db(self.store.detail, earlier.id)
        for record in detail.steps:
            owner = record.map_step or record.step_id
            if owner not in again:
                keep.add(record.key)
        workflow = _with_version(workflow, earlier.workflow_version)
        new_id = await self._db(self.store.create_run, workflow, earlier.definition, values, this_process(),
                                workflow_id=earlier.workflow_id, parent_run_id=earlier.id, from_step=step_id)  # fmt: skip
        await self._db(self.store.copy_steps, earlier.id, new_id, keep)
        state = _Run(new_id, workflow, values)
        for key, record in (await self._db(self.store.detail, new_id)).latest().items():
            if record.status in FINISHED:
                state.reuse[key] = record
        return await self._execute(state)

    # -- the run -----------------------------------------------------------------------------

    async def _execute(self, run: _Run) -> RunResult:
        self.store.mark_live(run.id, True)
        run.records = RecordWriter(self.store, run.id)
        deps = dependencies(run.workflow)
        run.done = {s.id: asyncio.Event() for s in run.workflow.steps}
        tasks = [
            asyncio.ensure_future(self._step_task(run, step, deps[step.id])) for step in run.workflow.steps
        ]
        try:
            await asyncio.gather(*tasks)
            await run.writer.drain()  # a record that could not be written fails the run here
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await asyncio.shield(run.writer.drain())
            except Exception:  # the run is still recorded cancelled
                log.exception("step records of a cancelled run were not all written")
            await asyncio.shield(self._db(self.store.finish_run, run.id, "cancelled", None, "Cancelled."))
            self.store.mark_live(run.id, False)
            self._emit(StepEvent(run.id, "run", status="cancelled", text="Cancelled."))
            raise
        except BaseException:
            for task in tasks:
                task.cancel()
            self.store.mark_live(run.id, False)
            raise
        result = self._result(run)
        await self._db(self.store.finish_run, run.id, result.status, result.outputs, result.error)
        self.store.mark_live(run.id, False)
        self._emit(StepEvent(run.id, "run", status=result.status, text=result.error or ""))
        return result

    def _result(self, run: _Run) -> RunResult:
        failures = [(sid, s.error) for sid, s in run.settled.items() if s.blocking == "failed"]
        waiting = [sid for sid, s in run.settled.items() if s.blocking == "waiting"]
        outputs = {
            s.id: run.settled[s.id].value.text
            for s in run.workflow.output_steps
            if run.settled.get(s.id) and run.settled[s.id].value is not None
        }
        if failures:
            order = [s.id for s in run.workflow.steps]
            sid, error = min(failures, key=lambda f: order.index(f[0]))
            return RunResult(run.id, "failed", outputs, error)
        if waiting:
            return RunResult(run.id, "waiting", outputs, f"Waiting for an answer at step '{waiting[0]}'.")
        return RunResult(run.id, "complete", outputs)

    async def _step_task(self, run: _Run, step: Step, deps: list[str]) -> None:
        try:
            for dep in deps:
                await run.done[dep].wait()
            blocked = [d for d in deps if run.settled[d].blocking]
            if blocked:
                run.settled[step.id] = _Settled(blocking="blocked")
            else:
                run.settled[step.id] = await self._run_step(run, step)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one step ends that step, said plainly; the run goes on
            log.exception("workflow step %s failed unexpectedly", step.id)
            run.settled[step.id] = _Settled(
                blocking="failed", error=f"Step '{step.id}': unexpected error: {exc}"
            )
        finally:
            run.done[step.id].set()

    async def _run_step(self, run: _Run, step: Step) -> _Settled:
        reused = run.reuse.get((step.id, None))
        if reused is not None:
            value = StepValue(reused.output or "", reused.status, reused.output_data)
            self._emit(
                StepEvent(run.id, "finished", step.id, status=reused.status, text=value.text, record=reused)
            )
            return _Settled(value=value)
        scope = Scope(run.inputs, run.values())
        if step.kind in ("map", "human"):
            skipped = await self._skip_by_when(run, step, scope)
            if skipped is not None:
                return skipped
        if step.kind == "map":
            return await self._map(run, step, scope)
        if step.kind == "human":
            return await self._human(run, step, scope)
        return await self._attempts(run, step, scope)

    async def _attempts(
        self, run: _Run, step: Step, scope: Scope, map_step: str | None = None, item: int | None = None
    ) -> _Settled:
        """Run one step (or one map item's sub-step) with its retries and on_error."""
        skipped = await self._skip_by_when(run, step, scope, map_step, item)
        if skipped is not None:
            return skipped
        error = ""
        record: str | None = None
        where = {"map_step": map_step, "item_index": item}
        for attempt in range(1, step.retry.max + 2):
            record = None
            if step.kind == "llm":  # a row from the start: a run cut off shows which step was running
                record = run.writer.begin(step.id, step.kind, attempt=attempt, status="running", **where)
            self._emit(StepEvent(run.id, "started", step.id, item, "running"))
            began = time.perf_counter()
            try:
                value, fields = await self._once(
                    run, step, scope, partial(self._text_event, run.id, step.id, item)
                )
            except StepFailure as failure:
                error = f"Step '{step.id}': {failure}"
                fields = {"duration_ms": (time.perf_counter() - began) * 1000, **failure.measures}
                record = self._record(
                    run, step, record, attempt, where, status="failed", error=str(failure), **fields
                )
                self._emit(StepEvent(run.id, "finished", step.id, item, "failed", text=error))
                if not failure.retryable or attempt > step.retry.max:
                    break
                wait = step.retry.backoff_ms * 2 ** (attempt - 1) / 1000
                self._emit(
                    StepEvent(
                        run.id, "retry", step.id, item, "running", text=f"try {attempt + 1} in {wait:.1f} s"
                    )
                )
                await asyncio.sleep(wait)
                continue
            except asyncio.CancelledError:
                if record is not None:
                    run.writer.finish(
                        record, status="cancelled", duration_ms=(time.perf_counter() - began) * 1000
                    )
                raise
            stats = fields.pop("stats", None)
            fields.setdefault("duration_ms", (time.perf_counter() - began) * 1000)
            self._record(run, step, record, attempt, where, status="complete", output=value.text,
                         output_data=value.data, **fields)  # fmt: skip
            measured = {k: v for k, v in fields.items() if k in MEASURES}
            self._emit(StepEvent(run.id, "finished", step.id, item, "complete", text=value.text, stats=stats,
                                 measures=measured))  # fmt: skip
            return _Settled(value=value)
        return await self._give_up(run, step, record, error, map_step, item)

    @staticmethod
    def _record(run: _Run, step: Step, record: str | None, attempt: int, where: dict, **fields: Any) -> str:
        """An attempt's end: its row finished (an llm step's, begun when it started), or for a step that
        calls nothing one row written whole."""
        if record is not None:
            run.writer.finish(record, **fields)
            return record
        return run.writer.begin(step.id, step.kind, attempt=attempt, **where, **fields)

    async def _skip_by_when(
        self, run: _Run, step: Step, scope: Scope, map_step: str | None = None, item: int | None = None
    ) -> _Settled | None:
        """A step whose ``when`` is false is skipped (recorded, output ""); None when it should run."""
        if not step.when:
            return None
        try:
            go = parse(step.when).holds(scope.resolve)
        except (ExpressionError, LookupError) as exc:
            error = f"Step '{step.id}': its when: cannot be decided: {exc}"
            return await self._give_up(run, step, None, error, map_step, item)
        if go:
            return None
        run.writer.begin(step.id, step.kind, map_step=map_step, item_index=item, status="skipped")
        self._emit(StepEvent(run.id, "finished", step.id, item, "skipped"))
        return _Settled(value=StepValue("", "skipped"))

    async def _give_up(
        self,
        run: _Run,
        step: Step,
        record: str | None,
        error: str,
        map_step: str | None = None,
        item: int | None = None,
    ) -> _Settled:
        """The step failed for good: its on_error decides. ``record`` is its last attempt's row; None
        when it failed before any attempt (a ``when`` that cannot be decided, a question that cannot be
        written), and then a row is written here, so every step that ended has a record saying why."""
        if record is None:
            record = run.writer.begin(step.id, step.kind, map_step=map_step, item_index=item,
                                      status="failed", error=error)  # fmt: skip
            self._emit(StepEvent(run.id, "finished", step.id, item, "failed", text=error))
        action = step.on_error.action
        if action == "fail":
            return _Settled(blocking="failed", error=error)
        text = "" if action == "continue" else show(step.on_error.default)
        run.writer.finish(record, status="recovered", output=text, error=error)
        self._emit(StepEvent(run.id, "finished", step.id, item, "recovered", text=text))
        return _Settled(value=StepValue(text, "recovered"))

    def _text_event(self, run_id: str, step_id: str, item: int | None, event: StreamEvent) -> None:
        if type(event) is TextDelta:
            self._emit(StepEvent(run_id, "text", step_id, item, "running", text=event.text))

    # -- the kinds ---------------------------------------------------------------------------

    async def _once(
        self, run: _Run, step: Step, scope: Scope, on_text: Callable[[StreamEvent], None]
    ) -> tuple[StepValue, dict[str, Any]]:
        try:
            if step.kind == "llm":
                return await self._llm(run, step, scope, on_text)
            if step.kind == "template":
                return StepValue(await self._template(step, scope)), {}
            if step.kind == "condition":
                return StepValue(choose_branch(step, scope)), {}
            if step.kind == "output":
                return StepValue(render(step.text or "", scope)), {}
            if step.kind == "tool":
                return await self._tool(step, scope)
        except (LookupError, ExpressionError) as exc:  # the same inputs would fail again
            raise StepFailure(str(exc.args[0] if exc.args else exc), retryable=False) from None
        raise StepFailure(f"the step kind '{step.kind}' cannot run here", retryable=False)

    async def _template(self, step: Step, scope: Scope) -> str:
        if step.text is not None:
            return render(step.text, scope)
        if self.templates is None:
            raise StepFailure("the template library is not available here", retryable=False)
        values = {k: render(v, scope) for k, v in step.values.items()}
        try:
            rendered = await asyncio.to_thread(self.templates.render, step.template, values)
        except (LookupError, ValueError) as exc:
            raise StepFailure(str(exc), retryable=False) from None
        return rendered.prompt

    def _provider(self, name: str) -> Provider:
        if self._provider_for is not None:
            return self._provider_for(name)
        return self.registry.get(name)

    async def _llm(
        self, run: _Run, step: Step, scope: Scope, on_text: Callable[[StreamEvent], None]
    ) -> tuple[StepValue, dict[str, Any]]:
        from ..connections.registry import parse_model_ref

        written = step.model or run.workflow.model or ""
        model = render(written, scope).strip()
        problem = None
        if "{{" in written and model and self.store.check_model is not None:  # chosen per run: check it now
            problem = await asyncio.to_thread(self.store.check_model, model)
        if not model or problem:
            raise StepFailure(problem or "no model was given", retryable=False)
        try:
            ref = parse_model_ref(model)
        except ConfigurationError as exc:
            raise StepFailure(str(exc), retryable=False) from None
        prompt = render(step.prompt or "", scope)
        system = render(step.system, scope) if step.system else None
        schema = None
        if step.output_schema is not None:  # asked in the prompt; a local model is held to it by a grammar
            system = (system + "\n\n" if system else "") + schema_instruction(step.output_schema)
            schema = json.dumps(step.output_schema)
        request = ChatRequest(model=ref.model, messages=(ChatMessage("user", prompt),), system=system,
                              params=GenerationParams(temperature=step.temperature, max_tokens=step.max_tokens,
                                                      json_schema=schema))  # fmt: skip
        # built off the loop's thread once per run (the first may start a helper process); steps that
        # start together wait for the same build
        building = run.providers.get(ref.provider)
        if building is None:
            building = asyncio.ensure_future(asyncio.to_thread(self._provider, ref.provider))
            run.providers[ref.provider] = building
        try:
            provider = await asyncio.shield(building)
        except ProviderError as exc:
            raise StepFailure(self._redact(str(exc)), retryable=False) from None
        reply = Reply(str(ref))
        events = stream_with_retries(provider, request, RetryPolicy(attempts=1))  # the step's retry decides
        await fold(reply, events, on_text, self._redact)
        measures = {
            "input": prompt if system is None else f"[system]\n{system}\n\n[user]\n{prompt}",
            "model": str(ref), "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
            "cost": reply.cost, "ttft_ms": reply.ttft_ms, "duration_ms": reply.duration_ms,
        }  # fmt: skip
        if reply.status == ReplyStatus.STOPPED:
            raise asyncio.CancelledError
        if reply.status != ReplyStatus.COMPLETE:
            retryable = not (reply.error or "").startswith("No API key")
            raise StepFailure(reply.error or "the model failed", retryable=retryable,
                              measures={**measures, "output": reply.text})  # fmt: skip
        text = reply.text
        data = None
        if step.output_schema is not None:
            data = check_output(text, step.output_schema, measures)
        return StepValue(text, data=data), {**measures, "stats": reply.stats()}

    async def _tool(self, step: Step, scope: Scope) -> tuple[StepValue, dict[str, Any]]:
        if self.tools is None:
            raise StepFailure(
                "tool steps cannot run here: no tools were given to the engine", retryable=False
            )
        name = render(step.tool or "", scope).strip()
        arguments = tool_arguments(step.arguments, scope)
        began = time.perf_counter()
        grants = [render(g, scope) for g in step.grants]  # files:{{inputs.folder}} grants the chosen folder
        outcome = await self.tools(name, arguments, grants, step.timeout)
        shown = json.dumps({"tool": name, "arguments": arguments}, ensure_ascii=False)
        measures = {"input": shown, "duration_ms": (time.perf_counter() - began) * 1000}
        if outcome.is_error:
            raise StepFailure(outcome.content, measures={**measures, "output": outcome.content})
        return StepValue(outcome.content), measures

    async def _human(self, run: _Run, step: Step, scope: Scope) -> _Settled:
        try:
            prompt = render(step.prompt or "", scope)
            draft = render(step.draft, scope) if step.draft is not None else None
        except LookupError as exc:
            return await self._give_up(run, step, None, f"Step '{step.id}': {exc.args[0]}")
        record = run.waiting_records.get((step.id, None))
        if record is None:
            record = run.writer.begin(step.id, "human", input=prompt, status="waiting")
        await run.writer.drain()  # the question is on disk before it is asked: it survives a restart
        self._emit(StepEvent(run.id, "waiting", step.id, status="waiting", text=prompt))
        answer = await self.ask(HumanRequest(run.id, step.id, prompt, draft)) if self.ask else None
        if answer is None:  # nobody answered: the run waits (and survives a restart)
            return _Settled(blocking="waiting", error=f"Step '{step.id}' waits for an answer.")
        run.writer.finish(record, status="complete", output=answer)
        self._emit(StepEvent(run.id, "finished", step.id, status="complete", text=answer))
        return _Settled(value=StepValue(answer))

    async def _map(self, run: _Run, step: Step, scope: Scope) -> _Settled:
        try:
            over = render(step.over or "", scope)
            items = await asyncio.to_thread(split_items, over, step.split)
        except (LookupError, WorkflowError, OSError) as exc:
            error = f"Step '{step.id}': {exc.args[0] if exc.args else exc}"
            return await self._give_up(run, step, None, error)
        record = run.writer.begin(step.id, "map", status="running", input=f"{len(items)} items")
        self._emit(StepEvent(run.id, "started", step.id, status="running", text=f"{len(items)} items"))
        began = time.perf_counter()
        gate = asyncio.Semaphore(step.max_parallel)

        async def one(item: Item) -> _Settled:
            async with gate:
                inner = Scope(scope.inputs, dict(scope.steps), item)
                last = _Settled(value=StepValue(""))
                for sub in step.steps:
                    reused = run.reuse.get((sub.id, item.index))
                    if reused is not None:
                        last = _Settled(
                            value=StepValue(reused.output or "", reused.status, reused.output_data)
                        )
                    else:
                        last = await self._attempts(run, sub, inner, map_step=step.id, item=item.index)
                    if last.blocking:
                        return last
                    inner.steps[sub.id] = last.value  # type: ignore[index]
                return last

        settled = await asyncio.gather(*(one(item) for item in items))
        failed = [(i, s.error) for i, s in enumerate(settled) if s.blocking]
        duration = (time.perf_counter() - began) * 1000
        if failed:
            error = f"Step '{step.id}': {len(failed)} of {len(items)} items failed; the first: {failed[0][1]}"
            run.writer.finish(record, status="failed", error=error, duration_ms=duration)
            self._emit(StepEvent(run.id, "finished", step.id, status="failed", text=error))
            return await self._give_up(run, step, record, error)
        results = [s.value.text for s in settled]  # type: ignore[union-attr]
        text = "\n\n".join(results)
        run.writer.finish(record, status="complete", output=text, output_data=results, duration_ms=duration)
        self._emit(StepEvent(run.id, "finished", step.id, status="complete", text=text))
        return _Settled(value=StepValue(text, data=results))

    # -- plumbing ----------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A store call on the database's thread: the loop (maybe a window's) never waits on SQLite."""
        return await self.store.db.in_thread(fn, *args, **kwargs)

    def _emit(self, event: StepEvent) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a broken view must not stop the run
                log.exception("workflow event listener failed")


def _with_version(workflow: Workflow, version: int) -> Workflow:
    from dataclasses import replace

    return replace(workflow, version=version)
