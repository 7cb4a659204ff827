"""`dataelan workflow list|show|validate|import|export|run|runs|resume`: multi-step prompt chains.

``run`` streams each step's progress to stderr and prints the outputs (JSON with ``--json``);
Ctrl+C cancels and leaves a run that ``resume`` continues without running finished steps again.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..core.paths import write_text_atomically
from .common import fail, out, run_async, services


def register(sub) -> None:
    p = sub.add_parser(
        "workflow", help="multi-step prompt chains: list, show, validate, import, export, run, runs, resume"
    )
    wsub = p.add_subparsers(dest="workflow_command", metavar="ACTION", required=True)
    wsub.add_parser("list", help="saved workflows (shipped examples included)").set_defaults(func=cmd_list)
    show = wsub.add_parser("show", help="a workflow's YAML")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    check = wsub.add_parser("validate", help="check a .workflow.yaml file without saving it")
    check.add_argument("file")
    check.set_defaults(func=cmd_validate)
    imp = wsub.add_parser("import", help="save a .workflow.yaml file as a workflow")
    imp.add_argument("file")
    imp.add_argument(
        "--replace", action="store_true", help="save as a new version of the workflow of that name"
    )
    imp.set_defaults(func=cmd_import)
    exp = wsub.add_parser("export", help="write a workflow's YAML (to standard output, or -o FILE)")
    exp.add_argument("name")
    exp.add_argument("-o", "--output", metavar="FILE")
    exp.set_defaults(func=cmd_export)
    run = wsub.add_parser("run", help="run a saved workflow or a .workflow.yaml file")
    run.add_argument("workflow", metavar="NAME_OR_FILE")
    run.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="an input's value (repeat)"
    )
    run.add_argument("--var-file", metavar="JSON", help="inputs from a JSON object file")
    run.add_argument("--json", action="store_true", help="print the run's id, status and outputs as JSON")
    run.set_defaults(func=cmd_run)
    runs = wsub.add_parser("runs", help="recorded runs, newest first")
    runs.add_argument("name", nargs="?", help="only this workflow's runs")
    runs.add_argument("-n", "--limit", type=int, default=30)
    runs.set_defaults(func=cmd_runs)
    resume = wsub.add_parser("resume", help="continue a cancelled, failed, interrupted or waiting run")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true", help="print the run's id, status and outputs as JSON")
    resume.set_defaults(func=cmd_resume)


def _store():
    from ..core.workflows import open_store

    return open_store(services())


def _read(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        fail(f"no file {path}")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")


# -- definitions ---------------------------------------------------------------------------------


def cmd_list(args) -> int:
    workflows = _store().list()
    if not workflows:
        out("no workflows yet: `dataelan workflow import FILE.workflow.yaml`")
    width = max((len(w.name) for w in workflows), default=0)
    for w in workflows:
        mark = " (example)" if w.builtin else ""
        out(
            f"{w.name.ljust(width)}  v{w.version:<3} {(w.description or '').strip().splitlines()[0] if w.description else ''}{mark}".rstrip()
        )
    return 0


def cmd_show(args) -> int:
    workflow = _store().get(args.name)
    out(workflow.yaml.rstrip("\n"))
    return 0


def cmd_validate(args) -> int:
    workflow = _store().check(_read(args.file))
    kinds = ", ".join(sorted({s.kind for s in workflow.steps}))
    out(f"ok: '{workflow.name}' has {len(workflow.steps)} steps ({kinds}) and {len(workflow.inputs)} inputs")
    return 0


def cmd_import(args) -> int:
    saved = _store().import_file(args.file, replace=args.replace)
    out(f"imported '{saved.name}' (version {saved.version})")
    return 0


def cmd_export(args) -> int:
    workflow = _store().get(args.name)
    if args.output:
        write_text_atomically(args.output, workflow.yaml)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        out(workflow.yaml.rstrip("\n"))
    return 0


# -- runs ------------------------------------------------------------------------------------------


def _inputs(args) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.var_file:
        try:
            loaded = json.loads(_read(args.var_file))
        except ValueError as exc:
            fail(f"{args.var_file} is not JSON: {exc}")
        if not isinstance(loaded, dict):
            fail(f"{args.var_file} should hold a JSON object of input values")
        values.update(loaded)
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--var takes NAME=VALUE, not {item!r}")
        values[name.strip()] = value
    return values


class _Progress:
    """Each step's progress on stderr, one line per change (the outputs alone go to stdout)."""

    def __init__(self) -> None:
        self.run_id: str | None = None

    def __call__(self, event) -> None:
        self.run_id = event.run_id
        if event.kind == "text":
            return
        name = event.step_id or "run"
        if event.item_index is not None:
            name += f"[{event.item_index}]"
        line = {
            "started": f"… {name}",
            "retry": f"↻ {name}: {event.text}",
            "waiting": f"? {name} waits for an answer",
        }.get(event.kind)
        if event.kind == "finished":
            mark = {"complete": "✓", "skipped": "–", "recovered": "!", "failed": "✗"}.get(
                event.status or "", "·"
            )
            detail = event.stats or event.status
            if event.status == "failed":  # the line names the step already
                detail = event.text.removeprefix(f"Step '{event.step_id}': ")
            line = f"{mark} {name} {detail}"
        if line:
            print(line, file=sys.stderr, flush=True)


async def _ask_on_terminal(request) -> str | None:
    """A human step on the command line: the prompt (and draft) on stderr, the answer one line of stdin.
    An empty line approves the draft; end of input leaves the run waiting for `resume`."""
    print(f"\n{request.prompt}", file=sys.stderr)
    if request.draft is not None:
        print(
            f"--- draft ---\n{request.draft}\n--- (Enter approves it; type a replacement otherwise)",
            file=sys.stderr,
        )
    print("> ", end="", file=sys.stderr, flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        return None
    answer = line.rstrip("\n")
    if not answer.strip() and request.draft is not None:
        return request.draft
    return answer


def _engine(progress: _Progress):
    from ..core.workflows.engine import WorkflowEngine
    from ..core.workflows.tools import tool_caller

    s = services()
    return WorkflowEngine(
        _store(),
        s.registry,
        templates=s.templates,
        ask=_ask_on_terminal,
        on_event=progress,
        tools=tool_caller(s),
    )


def _finish(result, as_json: bool) -> int:
    if as_json:
        out(json.dumps({"run_id": result.run_id, "status": result.status, "outputs": dict(result.outputs),
                        "error": result.error}, ensure_ascii=False, indent=2))  # fmt: skip
    else:
        outputs = dict(result.outputs)
        if len(outputs) == 1:
            out(next(iter(outputs.values())))
        else:
            for name, value in outputs.items():
                out(f"## {name}\n{value}\n")
    if result.status == "complete":
        print(f"run {result.run_id} complete", file=sys.stderr)
        return 0
    if result.status == "waiting":
        print(
            f"run {result.run_id} waits for an answer: `dataelan workflow resume {result.run_id}`",
            file=sys.stderr,
        )
        return 3
    print(f"error: {result.error}", file=sys.stderr)
    print(
        f"run {result.run_id} {result.status}: `dataelan workflow resume {result.run_id}` runs the rest",
        file=sys.stderr,
    )
    return 1


def _cancelled(progress: _Progress) -> int:
    if progress.run_id:
        print(f"\ncancelled: `dataelan workflow resume {progress.run_id}` continues it", file=sys.stderr)
    else:
        print("\ncancelled", file=sys.stderr)
    return 130


def cmd_run(args) -> int:
    store = _store()
    values = _inputs(args)
    if Path(args.workflow).is_file() and args.workflow.endswith((".yaml", ".yml")):
        definition, workflow_id, version = _read(args.workflow), None, 1
    else:
        saved = store.get(args.workflow)
        definition, workflow_id, version = saved.yaml, saved.id, saved.version
    progress = _Progress()
    engine = _engine(progress)
    engine.prepare(definition, values)  # a bad input is said before anything is recorded
    try:
        result = run_async(engine.start(definition, values, workflow_id=workflow_id, version=version))
    except KeyboardInterrupt:
        return _cancelled(progress)
    return _finish(result, args.json)


def cmd_resume(args) -> int:
    progress = _Progress()
    engine = _engine(progress)
    try:
        result = run_async(engine.resume(args.run_id))
    except KeyboardInterrupt:
        return _cancelled(progress)
    return _finish(result, args.json)


def cmd_runs(args) -> int:
    store = _store()
    runs = store.runs(args.name, limit=args.limit)
    if not runs:
        out("no runs yet: `dataelan workflow run NAME --var k=v`")
    for r in runs:
        took = ""
        if r.finished_at is not None:
            took = f"{(r.finished_at - r.created_at).total_seconds():.1f} s"
        out(
            f"{r.id}  {r.created_at:%Y-%m-%d %H:%M}  {r.status:<11} {took:>8}  {r.workflow_name} v{r.workflow_version}"
        )
    return 0
