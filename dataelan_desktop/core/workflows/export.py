"""A recorded run as Markdown or JSON, and its final output as a conversation (through ChatStore)."""

from __future__ import annotations

import json
from typing import Any

from ..chat.store import ChatStore
from .values import show
from .views import RunDetail


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(detail: RunDetail) -> str:
    run = detail.run
    data = {
        "run_id": run.id, "workflow": run.workflow_name, "version": run.workflow_version, "status": run.status,
        "error": run.error, "inputs": dict(run.inputs), "outputs": dict(run.outputs),
        "started": _when(run.created_at), "finished": _when(run.finished_at), "parent_run_id": run.parent_run_id,
        "from_step": run.from_step, "definition": run.definition,
        "steps": [
            {"step": s.step_id, "kind": s.kind, "map": s.map_step, "item": s.item_index, "attempt": s.attempt,
             "status": s.status, "reused": s.reused, "model": s.model, "input": s.input, "output": s.output,
             "error": s.error, "input_tokens": s.input_tokens, "output_tokens": s.output_tokens, "cost": s.cost,
             "ttft_ms": s.ttft_ms, "duration_ms": s.duration_ms}
            for s in detail.steps
        ],
    }  # fmt: skip
    return json.dumps(data, ensure_ascii=False, indent=2)


def run_markdown(detail: RunDetail) -> str:
    run = detail.run
    lines = [f"# {run.workflow_name} (version {run.workflow_version})", ""]
    lines.append(f"Run `{run.id}` · {run.status} · started {run.created_at:%Y-%m-%d %H:%M}")
    if run.error:
        lines.append(f"\n> {run.error}")
    lines += ["", "## Inputs", ""]
    lines += [f"- **{name}**: {show(value)}" for name, value in run.inputs.items()] or ["(none)"]
    lines += ["", "## Outputs", ""]
    for name, value in run.outputs.items():
        lines += [f"### {name}", "", str(value), ""]
    lines += ["## Steps", ""]
    for s in detail.steps:
        title = s.step_id + (f" [item {s.item_index + 1}]" if s.item_index is not None else "")
        facts = (
            [s.kind, s.status]
            + ([f"try {s.attempt}"] if s.attempt > 1 else [])
            + (["reused"] if s.reused else [])
        )
        if s.model:
            facts.append(s.model)
        if s.input_tokens is not None or s.output_tokens is not None:
            facts.append(f"{s.input_tokens or '?'} → {s.output_tokens or '?'} tokens")
        if s.duration_ms is not None:
            facts.append(f"{s.duration_ms / 1000:.2f} s")
        if s.cost:
            facts.append(f"${s.cost:.5f}")
        lines += [f"### {title}", "", " · ".join(facts), ""]
        if s.error:
            lines += [f"> {s.error}", ""]
        if s.output:
            lines += ["```", s.output, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def final_output(detail: RunDetail) -> str:
    outputs = dict(detail.run.outputs)
    if len(outputs) == 1:
        return str(next(iter(outputs.values())))
    return "\n\n".join(f"**{name}**\n\n{value}" for name, value in outputs.items())


def open_as_conversation(chat: ChatStore, detail: RunDetail) -> str:
    """A conversation whose first message states the run (workflow and inputs) and whose reply is the
    run's final output, with the model of its last LLM step, to go on chatting from. Returns its id."""
    run = detail.run
    if not run.outputs:
        raise ValueError("This run has no output yet: open it as a conversation once it has finished.")
    models = [s.model for s in detail.steps if s.kind == "llm" and s.model]
    model = models[-1] if models else None
    inputs = "\n".join(f"- {name}: {show(value)}" for name, value in run.inputs.items())
    asked = f"Workflow “{run.workflow_name}”" + (f" with:\n{inputs}" if inputs else "")
    return chat.create_filled_conversation(
        [dict(role="user", content=asked), dict(role="assistant", content=final_output(detail), model=model)],
        title=f"{run.workflow_name} ({run.created_at:%Y-%m-%d %H:%M})",
        model=model,
    )
