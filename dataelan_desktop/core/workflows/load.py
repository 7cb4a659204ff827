"""A ``.workflow.yaml`` document to a :class:`Workflow`, with one clear message when it cannot be.

Malformed YAML, a schema violation (naming the step and the line), then the graph's checks
(graph.py): whichever comes first is the one message, and nothing is saved or run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .definition import (
    MAP_KINDS,
    Branch,
    InputSpec,
    OnError,
    Retry,
    Step,
    Workflow,
    WorkflowError,
)

Lines = dict[tuple, int]


def _line_map(root: Any) -> Lines:
    """Every key and item's 1-based line, by its path in the document (("steps", 2, "prompt"))."""
    import yaml  # lazily: only workflow work needs the YAML parser

    lines: Lines = {}

    def walk(node: Any, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                walk(value, (*path, index))

    if root is not None:
        walk(root, ())
    return lines


def _compose(text: str) -> Any:
    """The document's node tree, parsed once (with libyaml where it is installed): the data and every
    field's line both come from it."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.compose(text, Loader=loader)


def parse_yaml(text: str) -> tuple[dict[str, Any], Lines]:
    import yaml

    if not text.strip():
        raise WorkflowError("The workflow is empty: it needs a name and steps.")
    try:
        root = _compose(text)
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
        lines = _line_map(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f"Line {line}: " if line else ""
        raise WorkflowError(
            f"{where}the YAML is malformed: {exc.problem or exc.context}.", line=line
        ) from None
    except yaml.YAMLError as exc:
        raise WorkflowError(f"The YAML is malformed: {exc}.") from None
    if not isinstance(data, dict):
        raise WorkflowError(
            "Line 1: a workflow is a mapping with a name and steps, not a list or text.", line=1
        )
    return data, lines


def _where(data: dict[str, Any], lines: Lines, path: tuple) -> tuple[str, str | None, int | None]:
    """ "Line 12, step 'draft': " for a path inside a step, else "Line 3: "."""
    line = None
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            line = lines[path[:cut]]
            break
    step = None
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        steps = data.get("steps") or []
        entry = steps[path[1]] if path[1] < len(steps) else None
        step = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else None
        if len(path) >= 4 and path[2] == "steps" and isinstance(path[3], int) and isinstance(entry, dict):
            subs = entry.get("steps") or []
            sub = subs[path[3]] if path[3] < len(subs) else None
            if isinstance(sub, dict) and isinstance(sub.get("id"), str):
                step = sub["id"]
        if step is None:
            step = f"#{path[1] + 1}"
    prefix = f"Line {line}" if line else "In the workflow"
    if step is None and len(path) >= 2 and path[0] == "inputs":
        return f"{prefix}, input '{path[1]}': ", None, line
    prefix += f", step '{step}': " if step else ": "
    return prefix, step, line


def _schema_message(error: Any) -> str:
    field = error.path[-1] if error.path else None
    if error.validator == "additionalProperties" and field is None:
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "additionalProperties":
        return error.message.replace(
            "Additional properties are not allowed", f"'{field}' has unknown field(s)"
        )
    if error.validator == "enum" and field == "kind":
        return f"{error.message} (the kinds are llm, template, condition, map, human, tool, output)"
    if error.validator == "oneOf" and field == "on_error":
        return "on_error is fail, continue, or {default: VALUE}"
    if error.validator == "oneOf" and "template" in (error.instance or {}):
        return "a template step has either text or template, not both"
    if error.validator == "oneOf":
        return (
            f"'{field}' is not valid here" if field is not None else "a template step needs text or template"
        )
    if error.validator == "pattern" and field in ("id", None) or error.validator == "propertyNames":
        return (
            f"{error.instance!r} is not a usable name: use letters, digits and _ (not starting with a digit)"
        )
    if field is not None and not isinstance(field, int):
        return f"{field}: {error.message}"
    return error.message


@functools.cache
def _validator(kind: str | None = None) -> Any:
    """The outline's validator (``kind`` None), or one kind of step's; made once per process."""
    import jsonschema

    from .schema import KIND_SCHEMAS, OUTLINE_SCHEMA

    return jsonschema.Draft202012Validator(OUTLINE_SCHEMA if kind is None else KIND_SCHEMAS[kind])


def _refuse(error: Any, data: dict[str, Any], lines: Lines, within: tuple = ()) -> None:
    import jsonschema

    while error.context:  # the deepest cause of an if/then or oneOf says the most
        error = jsonschema.exceptions.best_match(error.context)
    path = (*within, *error.absolute_path)
    prefix, step_id, line = _where(data, lines, path)
    raise WorkflowError(prefix + _schema_message(error), step=step_id, line=line)


def check_schema(data: dict[str, Any], lines: Lines) -> None:
    import jsonschema

    for index, step in enumerate(data.get("steps") or []):  # said plainly, not as an enum failure
        subs = step.get("steps") if isinstance(step, dict) else None
        for path, entry in [(("steps", index), step)] + [
            (("steps", index, "steps", j), s) for j, s in enumerate(subs if isinstance(subs, list) else [])
        ]:
            if len(path) == 4 and isinstance(entry, dict) and entry.get("kind") not in (None, *MAP_KINDS):
                prefix, step_id, line = _where(data, lines, (*path, "kind"))
                raise WorkflowError(
                    prefix + f"a map's steps can be {', '.join(MAP_KINDS)}, not {entry.get('kind')!r}",
                    step=step_id,
                    line=line,
                )
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        _refuse(error, data, lines)
    for index, step in enumerate(data["steps"]):
        error = jsonschema.exceptions.best_match(_validator(step["kind"]).iter_errors(step))
        if error is not None:
            _refuse(error, data, lines, ("steps", index))


# -- building the dataclasses ----------------------------------------------------------------


def _input(name: str, spec: Any) -> InputSpec:
    if isinstance(spec, str):
        return InputSpec(name, spec)
    has_default = "default" in spec
    return InputSpec(
        name,
        spec.get("type", "string"),
        spec.get("description"),
        spec.get("default"),
        required=bool(spec.get("required", not has_default)) and not has_default,
        choices=tuple(spec.get("choices") or ()),
    )


def _on_error(value: Any) -> OnError:
    if isinstance(value, dict):
        return OnError("default", value.get("default"))
    return OnError(value or "fail")


def _step(raw: dict[str, Any], path: tuple, lines: Lines) -> Step:
    retry = raw.get("retry") or {}
    branches: tuple[Branch, ...] = ()
    if raw["kind"] == "condition":
        branches = (Branch(raw["if"], raw["then"]),) + tuple(
            Branch(b["if"], b["then"]) for b in raw.get("elif") or []
        )
    subs = tuple(_step(s, (*path, "steps", j), lines) for j, s in enumerate(raw.get("steps") or []))
    text = raw.get("text") if raw["kind"] != "output" else raw.get("value")
    return Step(
        id=raw["id"],
        kind=raw["kind"],
        line=lines.get(path),
        after=tuple(raw.get("after") or ()),
        when=raw.get("when"),
        retry=Retry(int(retry.get("max", 0)), int(retry.get("backoff_ms", 0))),
        on_error=_on_error(raw.get("on_error")),
        model=raw.get("model"),
        prompt=raw.get("prompt"),
        system=raw.get("system"),
        temperature=raw.get("temperature"),
        max_tokens=raw.get("max_tokens"),
        output_schema=raw.get("output_schema"),
        text=text,
        template=raw.get("template"),
        values={k: str(v) for k, v in (raw.get("values") or {}).items()},
        branches=branches,
        otherwise=raw.get("else"),
        over=raw.get("over"),
        split=raw.get("split", "auto"),
        max_parallel=int(raw.get("max_parallel", 4)),
        steps=subs,
        draft=raw.get("draft"),
        tool=raw.get("tool"),
        arguments=dict(raw.get("arguments") or {}),
        grants=tuple(raw.get("tools") or ()),
        timeout=float(raw.get("timeout", 60)),
    )


def build(data: dict[str, Any], lines: Lines, version: int = 1) -> Workflow:
    return Workflow(
        name=" ".join(str(data["name"]).split()),
        description=data.get("description"),
        model=data.get("model"),
        version=version,
        inputs=tuple(_input(n, s) for n, s in (data.get("inputs") or {}).items()),
        steps=tuple(_step(s, ("steps", i), lines) for i, s in enumerate(data["steps"])),
    )


ModelCheck = Callable[[str], str | None]


def load(
    text: str,
    *,
    check_model: ModelCheck | None = None,
    check_template: ModelCheck | None = None,
    version: int = 1,
) -> Workflow:
    """Parse and check a workflow document; raises :class:`WorkflowError` with one clear message."""
    from .graph import check_graph

    data, lines = parse_yaml(text)
    check_schema(data, lines)
    workflow = build(data, lines, version)
    check_graph(workflow, check_model, check_template)
    return workflow
