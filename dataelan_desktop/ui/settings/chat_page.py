"""Settings → Chat: what a conversation longer than the model's context does, unless it chose itself."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from ..chat.context_meter import CHOICES

OVERFLOW_KEY = "chat/context_overflow"


def overflow_default(settings: QSettings) -> str:
    value = str(settings.value(OVERFLOW_KEY, CHOICES[0][0]))
    return value if value in dict(CHOICES) else CHOICES[0][0]


class ChatPage(QWidget):
    overflow_changed = Signal(str)

    def __init__(self, settings: QSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        form = QFormLayout(self)
        self.overflow = QComboBox()
        for value, text in CHOICES:
            self.overflow.addItem(text, value)
        self.overflow.setCurrentIndex(self.overflow.findData(overflow_default(settings)))
        self.overflow.currentIndexChanged.connect(self._set_overflow)
        form.addRow("Longer than the context", self.overflow)
        note = QLabel(
            "When a conversation no longer fits the model's context, its oldest turns are left out of what "
            "is sent, or summarised by the model first. They stay in the conversation either way. Each "
            "conversation can choose for itself beside the composer."
        )
        note.setWordWrap(True)
        form.addRow(note)

    def _set_overflow(self, index: int) -> None:
        value = str(self.overflow.itemData(index))
        self.settings.setValue(OVERFLOW_KEY, value)
        self.overflow_changed.emit(value)
