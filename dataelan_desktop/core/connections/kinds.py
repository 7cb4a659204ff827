"""The kinds of provider a connection can be (a plain enum: the window uses it before the database layer)."""

from __future__ import annotations

from enum import StrEnum


class ProviderKind(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENAI_COMPATIBLE = "openai_compatible"
