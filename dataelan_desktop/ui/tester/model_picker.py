"""A multi-select model picker: every model the registry lists, each with a check box, and a line to
add one it does not list (a model a server has but does not advertise)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class ModelPicker(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setToolTip("Tick every model the batch runs on")
        self.list.setMaximumHeight(120)
        self.other = QLineEdit()
        self.other.setPlaceholderText("another model (provider:model), Enter to add")
        self.other.returnPressed.connect(self._add_typed)
        layout.addWidget(self.list)
        layout.addWidget(self.other)

    def set_models(self, refs: Iterable[str]) -> None:
        """The models on offer; those already ticked stay ticked (and listed, if the registry no
        longer lists them)."""
        ticked = self.selected()
        self.list.clear()
        for ref in dict.fromkeys([*refs, *ticked]):
            self._add(ref, ref in ticked)

    def selected(self) -> list[str]:
        return [
            self.list.item(i).text()
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def select(self, refs: Iterable[str]) -> None:
        """Tick exactly ``refs`` (a reopened batch's models), adding any not listed."""
        wanted = list(refs)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in wanted else Qt.CheckState.Unchecked)
        listed = {self.list.item(i).text() for i in range(self.list.count())}
        for ref in wanted:
            if ref not in listed:
                self._add(ref, True)

    def _add_typed(self) -> None:
        ref = self.other.text().strip()
        if not ref:
            return
        matches = self.list.findItems(ref, Qt.MatchFlag.MatchExactly)
        if matches:
            matches[0].setCheckState(Qt.CheckState.Checked)
        else:
            self._add(ref, True)
        self.other.clear()

    def _add(self, ref: str, checked: bool) -> None:
        item = QListWidgetItem(ref)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.addItem(item)


async def listed_models(registry) -> list[str]:
    """Every model the registry can list, as refs; the Compare columns and this picker offer the same."""
    models, _errors = await registry.list_all_models()
    return [m.ref for m in models]
