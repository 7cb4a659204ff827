"""A tool call in the chat: one collapsible block with the tool's name, its arguments, its result or
error, how long it took and who let it run."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

APPROVERS = {
    "policy": "allowed by the agent's policy",
    "person": "allowed once by you",
    "person, always": "always allowed by you",
    "denied": "denied",
    "not run": "not run",
}


def pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return arguments  # what the model wrote, broken JSON and all


def summary(tool: dict[str, Any]) -> str:
    """The block's one line: name · source · duration · who approved (· error)."""
    parts = [tool.get("name") or "?", tool.get("source") or "no such tool"]
    if tool.get("duration_ms"):
        parts.append(f"{tool['duration_ms']:.0f} ms")
    parts.append(APPROVERS.get(tool.get("approved_by") or "", tool.get("approved_by") or ""))
    if tool.get("is_error"):
        parts.append("error")
    return " · ".join(p for p in parts if p)


class ToolCallBlock(QFrame):
    """Collapsed: the summary line. Expanded: arguments and result."""

    def __init__(self, view: Any, parent: QWidget | None = None):
        """``view``: the chat's MessageView of a ``tool`` message (content, tool)."""
        super().__init__(parent)
        self.view = view
        content, tool = view.content, view.tool or {}
        self.setObjectName("toolCall")
        self.setProperty("error", bool(tool.get("is_error")))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 4)
        row = QHBoxLayout()
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setText("▸")
        self.toggle.setAccessibleName("Show the tool call's details")
        self.toggle.toggled.connect(self.set_expanded)
        row.addWidget(self.toggle)
        self.title = QLabel(f"🔧 {summary(tool)}")
        self.title.setObjectName("messageHeader")
        row.addWidget(self.title, 1)
        layout.addLayout(row)
        from ..chat.message_widget import image_label  # (a picture a tool made: shown, not collapsed)

        self.images = [image_label(self, name, path) for name, path in getattr(view, "images", ())]
        for label in self.images:
            layout.addWidget(label)
        self.details = QWidget(self)
        inner = QVBoxLayout(self.details)
        inner.setContentsMargins(20, 0, 0, 0)
        inner.addWidget(QLabel("Arguments"))
        self.arguments = QPlainTextEdit(pretty(tool.get("arguments") or "{}"))
        self.arguments.setReadOnly(True)
        self.arguments.setMaximumHeight(140)
        inner.addWidget(self.arguments)
        inner.addWidget(QLabel("Error" if tool.get("is_error") else "Result"))
        self.result = QPlainTextEdit(content)
        self.result.setReadOnly(True)
        self.result.setMaximumHeight(220)
        inner.addWidget(self.result)
        layout.addWidget(self.details)
        self.details.setVisible(False)

    def set_expanded(self, expanded: bool) -> None:
        self.toggle.setText("▾" if expanded else "▸")
        self.details.setVisible(expanded)

    @property
    def expanded(self) -> bool:
        return self.details.isVisible()
