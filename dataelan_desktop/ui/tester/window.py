"""The model tester window: its tabs (Compare, Batch, Leaderboard, History) and the status line they
share; a run reopened from History goes to the tab that shows its kind."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QListWidgetItem, QTabWidget, QVBoxLayout, QWidget

from ...core.changes import Changes
from ...core.services import Services
from ...core.tester import history
from .. import ops
from .batch_tab import BatchTab
from .compare_tab import CompareTab
from .history_tab import HistoryTab
from .leaderboard_tab import LeaderboardTab

if TYPE_CHECKING:
    from ...core.tester.history import RunView


class TesterWindow(QWidget):
    changed = Signal(object)  # Changes, handed over to the GUI thread by Qt whichever thread published
    conversation_continued = Signal(str)  # "Continue in chat": the main window switches to it

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Model tester")
        self.resize(1200, 760)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.compare_tab = CompareTab(services, self.status)
        self.batch_tab = BatchTab(services, self.status)
        self.leaderboard_tab = LeaderboardTab(services)
        self.history_tab = HistoryTab(services)
        self.tabs.addTab(self.compare_tab, "Compare")
        self.tabs.addTab(self.batch_tab, "Batch")
        self.tabs.addTab(self.leaderboard_tab, "Leaderboard")
        self.tabs.addTab(self.history_tab, "History")
        self.tabs.currentChanged.connect(self._tab_changed)
        # a run started meanwhile wins over one still being read from History
        self.compare_tab.started.connect(lambda: ops.supersede(self, "show"))
        self.batch_tab.started.connect(lambda: ops.supersede(self, "show"))
        self.history_tab.itemActivated.connect(self.reopen)
        self.compare_tab.continued.connect(self.conversation_continued)
        self.changed.connect(self._on_changes)
        self._unsubscribe = services.bus.subscribe(self.changed.emit)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._unsubscribe()
        super().closeEvent(event)

    def _on_changes(self, changes: Changes) -> None:
        if changes.templates:
            self.compare_tab.load_templates()
        if changes.tester and self.tabs.currentWidget() is self.history_tab:
            self.history_tab.refresh()

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.leaderboard_tab:
            self.leaderboard_tab.refresh()
        elif self.tabs.widget(index) is self.history_tab:
            self.history_tab.refresh()

    def reopen(self, item: QListWidgetItem) -> ops.Op:
        """Show a saved run once it is read; the newest request wins if several are in flight."""
        read = partial(history.get_run, self.services.db, HistoryTab.run_id(item))
        return ops.query(self, "show", read, on_done=self._show_run)

    def _show_run(self, run: RunView) -> None:
        if run.kind == "batch":  # cells, not columns: the Batch tab shows them
            self.batch_tab.reopen(run)
            self.tabs.setCurrentWidget(self.batch_tab)
        else:
            self.compare_tab.show_run(run)
            self.tabs.setCurrentWidget(self.compare_tab)
