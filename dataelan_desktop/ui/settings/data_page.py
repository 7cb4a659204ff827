"""Settings → Data: where the conversations and the database live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from ...core import paths


class DataPage(QWidget):
    def __init__(self, database: Path | None, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        folder = QLabel(str(paths.data_dir()))
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Data folder", folder)
        form.addRow("Database", QLabel(str(database)))
        form.addRow("", QLabel("Set DATAELAN_HOME to keep everything in another folder."))
