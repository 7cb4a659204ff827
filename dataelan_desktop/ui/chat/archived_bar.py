"""A strip above an archived conversation (opened from the Archived view or from search): it says so
and offers Unarchive."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class ArchivedBar(QWidget):
    unarchive_requested = Signal(str)  # the conversation's id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("archivedBar")
        self._conversation_id: str | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 2, 16, 2)
        self.label = QLabel("This conversation is archived: it is not in the list of chats.")
        self.label.setObjectName("messageHeader")
        self.unarchive_button = QPushButton("Unarchive")
        self.unarchive_button.clicked.connect(self._unarchive)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.unarchive_button)
        self.setVisible(False)

    def show_for(self, conversation) -> None:
        """Shown for an archived conversation (a ConversationView), hidden for any other."""
        self._conversation_id = conversation.id
        self.setVisible(bool(conversation.archived))

    def clear(self) -> None:
        self._conversation_id = None
        self.setVisible(False)

    def _unarchive(self) -> None:
        if self._conversation_id is not None:
            self.unarchive_requested.emit(self._conversation_id)
