"""MCP tool annotations in words a person reads: the server's own claims, shown, never trusted
(Settings → MCP lists them beside each tool; the approval dialog says them before a call)."""

from __future__ import annotations

from typing import Any

#: annotation → (word when true, word when false)
HINTS = {
    "readOnlyHint": ("read-only", None),
    "destructiveHint": ("destructive", "not destructive"),
    "idempotentHint": ("idempotent", None),
    "openWorldHint": ("reaches outside", "closed world"),
}


def hints_text(annotations: dict[str, Any]) -> str:
    words = []
    for key, (yes, no) in HINTS.items():
        if key in annotations:
            word = yes if annotations[key] else no
            if word:
                words.append(word)
    return ", ".join(words)
