"""A workflow as plain data: typed inputs, steps, and the settings every step shares.

Built from a checked YAML document by :mod:`.load`; the engine reads only these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the kinds a step may be
STEP_KINDS = ("llm", "template", "condition", "map", "human", "tool", "output")
#: the kinds allowed inside a map's sub-steps (one item at a time, no person to ask)
MAP_KINDS = ("llm", "template", "condition", "tool")
INPUT_TYPES = ("string", "text", "number", "integer", "boolean", "list", "json", "file", "folder", "model")
#: names a step cannot take: they already mean something in a {{reference}}
RESERVED = frozenset({"inputs", "item", "true", "false", "null", "and", "or", "not", "contains", "len"})


class WorkflowError(ValueError):
    """A workflow that cannot be saved or run; the message names the step and the line when it can."""

    def __init__(self, message: str, *, step: str | None = None, line: int | None = None):
        super().__init__(message)
        self.step = step
        self.line = line


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str = "string"
    description: str | None = None
    default: Any = None
    required: bool = True  # False when a default is given or ``required: false``
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retry:
    max: int = 0  # tries after the first
    backoff_ms: int = 0  # doubles each try


@dataclass(frozen=True)
class OnError:
    action: str = "fail"  # fail | continue | default
    default: Any = None


@dataclass(frozen=True)
class Branch:
    """One ``if``/``elif`` of a condition step: when ``expr`` holds, the step's output is ``then``."""

    expr: str
    then: str


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    line: int | None = None
    after: tuple[str, ...] = ()
    when: str | None = None  # a condition: when false the step is skipped (output "")
    retry: Retry = Retry()
    on_error: OnError = OnError()
    # llm
    model: str | None = None
    prompt: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    output_schema: dict[str, Any] | None = None
    # template (inline text, or a library template with values); also output's ``value``
    text: str | None = None
    template: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    # condition
    branches: tuple[Branch, ...] = ()
    otherwise: str | None = None
    # map
    over: str | None = None
    split: str = "auto"  # auto | lines | json | files
    max_parallel: int = 4
    steps: tuple[Step, ...] = ()
    # human
    draft: str | None = None  # a draft the person approves or edits; without it they type a value
    # tool: a built-in agent tool's name or mcp:SERVER:TOOL, its arguments, the tool sets it may use
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    grants: tuple[str, ...] = ()
    timeout: float = 60.0

    @property
    def texts(self) -> list[str]:
        """Every text of this step that may hold {{references}} (not its sub-steps')."""
        texts = [
            self.model,
            self.prompt,
            self.system,
            self.text,
            self.over,
            self.draft,
            *self.values.values(),
        ]
        texts += [b.then for b in self.branches] + [self.otherwise, self.tool]
        texts += [*_strings(self.arguments), *self.grants]
        return [t for t in texts if t]

    @property
    def expressions(self) -> list[str]:
        return [e for e in [self.when, *(b.expr for b in self.branches)] if e]


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value (a tool step's arguments may nest)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _strings(v)]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]
    return []


@dataclass(frozen=True)
class Workflow:
    name: str
    steps: tuple[Step, ...]
    inputs: tuple[InputSpec, ...] = ()
    description: str | None = None
    model: str | None = None  # the workflow's default model for llm steps
    version: int = 1

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"The workflow '{self.name}' has no step '{step_id}'.")

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def output_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "output"]
