"""{{references}} in a workflow's texts: the template library's ``{{name|default}}`` syntax (see
core/templates/render.py), extended with dotted paths (``{{inputs.topic}}``, ``{{draft.text}}``,
``{{extract.json.items[0]}}``). Anything else in braces stays as written, as in templates."""

from __future__ import annotations

import re

from ..templates.render import NAME
from .expr import Path
from .values import Scope, show

SEGMENT = r"(?:\.[A-Za-z0-9_]+|\[\d+\])"
REFERENCE = re.compile(r"\{\{\s*(" + NAME + SEGMENT + r"*)\s*(?:\|([^{}\r\n]*))?\}\}")


def split_path(text: str) -> Path:
    parts: list[str | int] = []
    for piece in re.findall(r"[A-Za-z0-9_]+|\[\d+\]", text):
        parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    return tuple(parts)


def references(text: str | None) -> list[Path]:
    """Every reference in ``text``, in order."""
    return [split_path(m.group(1)) for m in REFERENCE.finditer(text or "")]


def render(text: str, scope: Scope) -> str:
    """``text`` with every reference replaced; a reference that has no value and no default raises
    LookupError naming it. One pass: a value that holds {{x}} is inserted as written."""

    def one(match: re.Match[str]) -> str:
        try:
            return show(scope.resolve(split_path(match.group(1))))
        except LookupError:
            if match.group(2) is not None:
                return match.group(2).strip()
            raise

    return REFERENCE.sub(one, text)
