"""Template variables and rendering: ``{{name}}`` or ``{{name|default text}}``, nothing more.

Anything that is not exactly that shape (JSON, single braces, ``{{ not a var }}``) stays as
written, because prompts about code are full of braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A default is one line without braces: a stray "{{x|" must not swallow the rest of the prompt.
PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME + r")\s*(?:\|([^{}\r\n]*))?\}\}")
NAME_RE = re.compile(NAME + r"\Z")


class TemplateError(ValueError):
    """A template that cannot be saved or rendered; the message says what to do."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: the variable is required

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class RenderedPrompt:
    prompt: str
    system: str | None


def template_variables(*texts: str | None) -> list[Variable]:
    """Variables in order of first appearance; a name's default is the first one written anywhere."""
    order: list[str] = []
    defaults: dict[str, str | None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text or ""):
            name, default = match.group(1), match.group(2)
            if name not in defaults:
                order.append(name)
                defaults[name] = None
            if defaults[name] is None and default is not None:
                defaults[name] = default.strip()
    return [Variable(name, defaults[name]) for name in order]


def is_blank(value: str | None) -> bool:
    return value is None or not value.strip()


def resolve_values(variables: list[Variable], values: Mapping[str, str]) -> dict[str, str]:
    """The value of every variable; a blank value falls back to the default.

    Raises :class:`TemplateError` naming *every* variable left without a value, so a
    person fixes them all at once rather than one error at a time.
    """
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for variable in variables:
        given = values.get(variable.name)
        if not is_blank(given):
            resolved[variable.name] = given  # type: ignore[assignment]
        elif variable.default is not None:
            resolved[variable.name] = variable.default
        else:
            missing.append(variable.name)
    if missing:
        them = "it" if len(missing) == 1 else "them"
        raise TemplateError(
            f"Missing a value for {', '.join(missing)}: the template has no default for {them}."
        )
    return resolved


def substitute(text: str, resolved: Mapping[str, str]) -> str:
    # one pass with a function: a value that itself contains {{x}} is inserted as written
    return PLACEHOLDER.sub(lambda m: resolved[m.group(1)], text)


def render_text(text: str, values: Mapping[str, str]) -> str:
    return substitute(text, resolve_values(template_variables(text), values))


def render_parts(body: str, system: str | None, values: Mapping[str, str]) -> RenderedPrompt:
    """Body and system prompt share their variables (and defaults) and are checked together."""
    resolved = resolve_values(template_variables(body, system), values)
    rendered_system = substitute(system, resolved).strip() if system else None
    return RenderedPrompt(substitute(body, resolved), rendered_system or None)


def is_variable_name(name: str) -> bool:
    return NAME_RE.match(name) is not None
