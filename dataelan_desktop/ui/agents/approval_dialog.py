"""Asking a person whether a tool may run: the tool, its source, its arguments (pretty JSON), and
Allow once / Always allow this tool / Deny. Closing the dialog denies."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from .hints import hints_text

if TYPE_CHECKING:
    from ...core.agents.loop import PendingCall

ALLOW_ONCE, ALWAYS, DENY = "allow_once", "always", "deny"  # the values of core's Approval


class ApprovalDialog(QDialog):
    answered = Signal(str)  # allow_once | always | deny

    def __init__(self, tool: str, source: str, arguments: str, *, annotations: dict[str, Any] | None = None,
                 can_always: bool = True, parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(f"Allow {tool}?")
        self._answer: str | None = None
        layout = QVBoxLayout(self)
        self.question = QLabel(
            f"The model wants to run <b>{tool}</b> from <i>{source}</i> with these arguments:"
        )
        self.question.setWordWrap(True)
        layout.addWidget(self.question)
        self.arguments = QPlainTextEdit(arguments)
        self.arguments.setReadOnly(True)
        self.arguments.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.arguments.setMinimumSize(460, 160)
        layout.addWidget(self.arguments)
        self.annotations = QLabel()
        self.annotations.setWordWrap(True)
        hints = hints_text(annotations or {})
        if hints:  # in the words Settings → MCP uses; a claim of the server's, never a rule
            self.annotations.setText(
                f"The server says this tool is {hints}. That is its own claim, not verified."
            )
        self.annotations.setVisible(bool(hints))
        layout.addWidget(self.annotations)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.deny_button = QPushButton("Deny")
        self.always_button = QPushButton("Always allow this tool")
        self.always_button.setVisible(can_always)  # (writing a file asks every time)
        self.allow_button = QPushButton("Allow once")
        self.allow_button.setDefault(True)
        for button, answer in (
            (self.deny_button, DENY),
            (self.always_button, ALWAYS),
            (self.allow_button, ALLOW_ONCE),
        ):
            button.clicked.connect(lambda _=False, a=answer: self._finish(a))
            buttons.addWidget(button)
        layout.addLayout(buttons)

    def _finish(self, answer: str) -> None:
        if self._answer is None:
            self._answer = answer
            self.answered.emit(answer)
        self.accept() if answer != DENY else super().reject()

    def reject(self) -> None:  # Esc or the window's close button: the call is denied
        self._finish(DENY)


def window_approver(parent: QWidget):
    """An approval callback for the agent loop that asks with :class:`ApprovalDialog`, without
    blocking the window (the dialog is window-modal, the loop awaits its answer)."""
    from ...core.agents.loop import Approval

    async def approve(pending: PendingCall) -> Approval:
        tool = pending.tool
        dialog = ApprovalDialog(
            tool.spec.name, tool.source, pending.pretty_arguments, annotations=tool.annotations,
            can_always=not tool.always_ask, parent=parent,
        )  # fmt: skip
        answer: asyncio.Future[str] = asyncio.get_event_loop().create_future()
        dialog.answered.connect(lambda a: answer.done() or answer.set_result(a))
        dialog.open()
        try:
            return Approval(await answer)
        finally:
            dialog.answered.disconnect()
            dialog.close()
            dialog.deleteLater()

    return approve
