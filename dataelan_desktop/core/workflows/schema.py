"""The JSON Schema a ``.workflow.yaml`` document is checked against (shape only; references, the
graph and models are checked in graph.py)."""

from __future__ import annotations

from typing import Any

from .definition import INPUT_TYPES, MAP_KINDS, STEP_KINDS

ID = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 64}
TEXT = {"type": "string"}

_COMMON: dict[str, Any] = {
    "id": ID,
    "kind": {"type": "string"},
    "description": TEXT,
    "after": {"type": "array", "items": ID},
    "when": TEXT,
    "retry": {
        "type": "object",
        "properties": {
            "max": {"type": "integer", "minimum": 0, "maximum": 20},
            "backoff_ms": {"type": "integer", "minimum": 0, "maximum": 600_000},
        },
        "additionalProperties": False,
    },
    "on_error": {
        "oneOf": [
            {"enum": ["fail", "continue"]},
            {
                "type": "object",
                "properties": {"default": {}},
                "required": ["default"],
                "additionalProperties": False,
            },
        ]
    },
}

_KIND_FIELDS: dict[str, dict[str, Any]] = {
    "llm": {
        "model": TEXT,
        "prompt": TEXT,
        "system": TEXT,
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
        "output_schema": {"type": "object"},
    },
    "template": {
        "text": TEXT,
        "template": TEXT,
        "values": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    },
    "condition": {
        "if": TEXT,
        "then": TEXT,
        "elif": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"if": TEXT, "then": TEXT},
                "required": ["if", "then"],
                "additionalProperties": False,
            },
        },
        "else": TEXT,
    },
    "map": {
        "over": TEXT,
        "split": {"enum": ["auto", "lines", "json", "files"]},
        "max_parallel": {"type": "integer", "minimum": 1, "maximum": 64},
        "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/substep"}},
    },
    "human": {"prompt": TEXT, "draft": TEXT},
    "tool": {
        "tool": {"type": "string", "minLength": 1},
        "arguments": {"type": "object"},
        "tools": {"type": "array", "items": {"type": "string"}},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
    },
    "output": {"value": TEXT},
}

_REQUIRED = {
    "llm": ["prompt"],
    "template": [],
    "condition": ["if", "then"],
    "map": ["over", "steps"],
    "human": ["prompt"],
    "tool": ["tool"],
    "output": ["value"],
}


def _kind_rules(kind: str) -> dict[str, Any]:
    """What a step of ``kind`` may and must have."""
    then: dict[str, Any] = {"properties": {**_COMMON, **_KIND_FIELDS[kind]}, "additionalProperties": False}
    if _REQUIRED[kind]:
        then["required"] = _REQUIRED[kind]
    if kind == "template":
        then["oneOf"] = [{"required": ["text"]}, {"required": ["template"]}]
    return then


def _step_schema(kinds: tuple[str, ...]) -> dict[str, Any]:
    """One step: the common fields, and per kind (if/then) its own fields and what it requires."""
    branches = [
        {"if": {"properties": {"kind": {"const": kind}}}, "then": _kind_rules(kind)} for kind in kinds
    ]
    return {
        "type": "object",
        "required": ["id", "kind"],
        "properties": {"id": ID, "kind": {"enum": list(kinds)}},
        "allOf": branches,
    }


INPUT = {
    "type": "object",
    "properties": {
        "type": {"enum": list(INPUT_TYPES)},
        "description": TEXT,
        "default": {},
        "required": {"type": "boolean"},
        "choices": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "additionalProperties": False,
}

WORKFLOW_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "steps"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": TEXT,
        "version": {"type": "integer"},
        "model": TEXT,
        "inputs": {
            "type": "object",
            "propertyNames": ID,
            "additionalProperties": {"oneOf": [INPUT, {"enum": list(INPUT_TYPES)}]},
        },
        "steps": {"type": "array", "minItems": 1, "items": _step_schema(STEP_KINDS)},
    },
    "additionalProperties": False,
    "$defs": {"substep": _step_schema(MAP_KINDS)},
}


#: checked in two passes, as fast as the whole: the document with each step's id and kind only, then
#: each step against its own kind's rules (one set per step, not an if/then per kind)
OUTLINE_SCHEMA: dict[str, Any] = {
    **WORKFLOW_SCHEMA,
    "properties": {
        **WORKFLOW_SCHEMA["properties"],
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {"id": ID, "kind": {"enum": list(STEP_KINDS)}},
            },
        },
    },
}
KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    kind: {"type": "object", **_kind_rules(kind), "$defs": WORKFLOW_SCHEMA["$defs"]} for kind in STEP_KINDS
}
