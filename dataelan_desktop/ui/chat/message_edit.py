"""The composer's text box: Enter sends, Shift+Enter breaks the line (or the reverse), Esc stops a reply."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit


class MessageEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter breaks the line (or the reverse, when configured)."""

    submit = Signal()
    escape = Signal()  # Esc while typing stops the reply, even where window shortcuts do not reach

    def __init__(self, parent=None):
        super().__init__(parent)
        self.enter_sends = True
        self.setPlaceholderText("Write a message…  (Enter to send, Shift+Enter for a new line)")
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.escape.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if shift != self.enter_sends:  # Enter alone sends by default
                self.submit.emit()
                return
            self.insertPlainText("\n")
            return
        super().keyPressEvent(event)
