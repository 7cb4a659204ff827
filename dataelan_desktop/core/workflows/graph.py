"""The graph of a workflow: edges from {{references}}, expressions and ``after:``; the checks made
at save time (unknown reference, missing input, cycle, model) with one message each."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .definition import RESERVED, Step, Workflow, WorkflowError
from .expr import ExpressionError, Path, parse
from .render import references


def _at(step: Step) -> str:
    return f"Line {step.line}, step '{step.id}'" if step.line else f"Step '{step.id}'"


def _fail(step: Step, message: str) -> WorkflowError:
    return WorkflowError(f"{_at(step)}: {message}", step=step.id, line=step.line)


def step_references(step: Step) -> list[Path]:
    """Every path the step reads (its texts and expressions, not its sub-steps')."""
    found: list[Path] = []
    for text in step.texts:
        found += references(text)
    for source in step.expressions:
        try:
            found += parse(source).references
        except ExpressionError as exc:
            raise _fail(step, f"the condition {source!r} cannot be read: {exc}") from None
    return found


def dependencies(workflow: Workflow) -> dict[str, list[str]]:
    """Each top-level step's direct predecessors (a map's sub-steps' outer references count as its own)."""
    ids = {s.id for s in workflow.steps}
    deps: dict[str, list[str]] = {}
    for step in workflow.steps:
        heads: list[str] = list(step.after)
        for holder in (step, *step.steps):
            heads += [str(p[0]) for p in step_references(holder) if str(p[0]) in ids]
        deps[step.id] = [h for h in dict.fromkeys(heads) if h != step.id or step.id in step.after]
    return deps


def order(workflow: Workflow) -> list[str]:
    """The steps in an order where every step comes after the steps it uses (the file's order where free)."""
    deps = dependencies(workflow)
    done: list[str] = []
    seen: set[str] = set()

    def visit(step_id: str) -> None:
        if step_id in seen:
            return
        seen.add(step_id)
        for dep in deps[step_id]:
            visit(dep)
        done.append(step_id)

    for step in workflow.steps:
        visit(step.id)
    return done


def downstream(workflow: Workflow, step_id: str) -> set[str]:
    """``step_id`` and every step that uses it, directly or not."""
    deps = dependencies(workflow)
    found = {step_id}
    changed = True
    while changed:
        changed = False
        for sid, before in deps.items():
            if sid not in found and found & set(before):
                found.add(sid)
                changed = True
    return found


def _find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _check_ids(workflow: Workflow) -> None:
    seen: dict[str, Step] = {}
    for step in workflow.steps:
        for s in (step, *step.steps):
            if s.id in RESERVED:
                raise _fail(s, f"'{s.id}' cannot be a step's id: it already means something in a reference")
            if s.id in seen:
                first = seen[s.id]
                also = f" (also line {first.line})" if first.line else ""
                raise _fail(s, f"the id '{s.id}' is used by two steps{also}; ids must be unique")
            seen[s.id] = s


def _check_references(workflow: Workflow, step: Step, visible: Iterable[str], in_map: bool) -> None:
    known = set(visible)
    for path in step_references(step):
        head = str(path[0])
        shown = ".".join(str(p) for p in path)
        if head == "inputs":
            if len(path) < 2:
                raise _fail(step, "write inputs.NAME to use an input")
            if workflow.input(str(path[1])) is None:
                declared = ", ".join(i.name for i in workflow.inputs) or "none"
                raise _fail(
                    step,
                    f"uses the input '{path[1]}', which is not declared under inputs (declared: {declared})",
                )
        elif head == "item":
            if not in_map:
                raise _fail(step, f"uses {shown}, but 'item' exists only inside a map's steps")
        elif head not in known:
            raise _fail(step, f"refers to '{head}', which is not a step of this workflow")
    for dep in step.after:
        if dep not in known:
            raise _fail(step, f"comes after '{dep}', which is not a step of this workflow")


def check_graph(
    workflow: Workflow,
    check_model: Callable[[str], str | None] | None = None,
    check_template: Callable[[str], str | None] | None = None,
) -> None:
    _check_ids(workflow)
    top = [s.id for s in workflow.steps]
    for step in workflow.steps:
        _check_references(workflow, step, [i for i in top if i != step.id], in_map=False)
        for index, sub in enumerate(step.steps):  # earlier sub-steps of the same item, and outer steps
            earlier = [s.id for s in step.steps[:index]]
            later = {s.id for s in step.steps[index:]}
            for path in step_references(sub):
                if str(path[0]) in later:
                    raise _fail(sub, f"refers to '{path[0]}', which runs after it in the map's steps")
            _check_references(workflow, sub, [*earlier, *(i for i in top if i != step.id)], in_map=True)
    for path in references(workflow.model):
        if str(path[0]) != "inputs" or len(path) < 2 or workflow.input(str(path[1])) is None:
            raise WorkflowError(
                f"The workflow's model {workflow.model!r} can only use a declared input, as in {{{{inputs.model}}}}."
            )
    cycle = _find_cycle(dependencies(workflow))
    if cycle:
        first = workflow.step(cycle[0])
        raise _fail(
            first, f"the steps {' → '.join(cycle)} form a cycle: a step cannot depend on its own output"
        )
    if not workflow.output_steps:
        raise WorkflowError(
            "The workflow has no output step: add one (kind: output) to say what a run returns."
        )
    for step in workflow.steps:
        for s in (step, *step.steps):
            if s.kind == "template" and s.template and check_template is not None:
                problem = check_template(s.template)
                if problem:
                    raise _fail(s, problem)
            if s.kind != "llm":
                continue
            model = s.model or workflow.model
            if not model:
                raise _fail(s, "has no model: give the step a model, or the workflow a default model")
            if check_model is not None:
                problem = check_model(model)
                if problem:
                    raise _fail(s, problem)
