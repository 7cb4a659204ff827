"""Settings → Appearance: the theme, and which key sends a message."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QWidget

from ..theme import THEMES


class AppearancePage(QWidget):
    theme_changed = Signal(str)
    enter_sends_changed = Signal(bool)

    def __init__(self, settings: QSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        form = QFormLayout(self)
        self.theme = QComboBox()
        self.theme.addItems([t.capitalize() for t in THEMES])
        current = str(settings.value("appearance/theme", "system"))
        self.theme.setCurrentIndex(THEMES.index(current) if current in THEMES else 0)
        self.theme.currentIndexChanged.connect(lambda i: self._set_theme(THEMES[i]))
        form.addRow("Theme", self.theme)
        self.enter_mode = QComboBox()
        self.enter_mode.addItems(["Enter sends, Shift+Enter new line", "Shift+Enter sends, Enter new line"])
        self.enter_mode.setCurrentIndex(0 if settings.value("composer/enter_sends", True, type=bool) else 1)
        self.enter_mode.currentIndexChanged.connect(self._set_enter)
        form.addRow("Sending", self.enter_mode)

    def _set_theme(self, theme: str) -> None:
        self.settings.setValue("appearance/theme", theme)
        self.theme_changed.emit(theme)

    def _set_enter(self, index: int) -> None:
        self.settings.setValue("composer/enter_sends", index == 0)
        self.enter_sends_changed.emit(index == 0)
