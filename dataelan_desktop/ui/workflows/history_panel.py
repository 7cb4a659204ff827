"""Run history of the selected workflow: reopen, resume, re-run from a step, export, open as a conversation."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.workflows.views import RunView

ID_ROLE = Qt.ItemDataRole.UserRole


class HistoryPanel(QWidget):
    reopen_requested = Signal(str)
    resume_requested = Signal(str)
    rerun_requested = Signal(str, str)  # run id, step id
    export_requested = Signal(str, str)  # run id, "md" | "json"
    conversation_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs = QTreeWidget()
        self.runs.setHeaderLabels(["Started", "Status", "Took", "Version", "Run"])
        self.runs.setRootIsDecorated(False)
        self.runs.itemDoubleClicked.connect(lambda *_: self._emit(self.reopen_requested))
        self.runs.currentItemChanged.connect(lambda *_: self._selection())
        self.open_button = QPushButton("Open")
        self.resume_button = QPushButton("Resume")
        self.step_choice = QComboBox()
        self.step_choice.setToolTip("Run again from this step, with the inputs in the Run tab")
        self.rerun_button = QPushButton("Re-run from step")
        self.markdown_button = QPushButton("Export Markdown…")
        self.json_button = QPushButton("Export JSON…")
        self.chat_button = QPushButton("Open as conversation")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.open_button.clicked.connect(lambda: self._emit(self.reopen_requested))
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.rerun_button.clicked.connect(self._rerun)
        self.markdown_button.clicked.connect(lambda: self._export("md"))
        self.json_button.clicked.connect(lambda: self._export("json"))
        self.chat_button.clicked.connect(lambda: self._emit(self.conversation_requested))
        row1 = QHBoxLayout()
        for b in (self.open_button, self.resume_button, self.step_choice, self.rerun_button):
            row1.addWidget(b)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        for b in (self.markdown_button, self.json_button, self.chat_button):
            row2.addWidget(b)
        row2.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.runs, 1)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.note)
        self.by_id: dict[str, RunView] = {}
        self._selection()

    def set_steps(self, step_ids: list[str]) -> None:
        chosen = self.step_choice.currentText()
        self.step_choice.clear()
        self.step_choice.addItems(step_ids)
        if chosen in step_ids:
            self.step_choice.setCurrentText(chosen)

    def show_runs(self, runs: list[RunView]) -> None:
        keep = self.current_id()
        self.by_id = {r.id: r for r in runs}
        self.runs.blockSignals(True)
        self.runs.clear()
        for run in runs:
            took = f"{(run.finished_at - run.created_at).total_seconds():.1f} s" if run.finished_at else ""
            item = QTreeWidgetItem([f"{run.created_at:%Y-%m-%d %H:%M:%S}", run.status, took,
                                    f"v{run.workflow_version}", run.id[:8]])  # fmt: skip
            item.setData(0, ID_ROLE, run.id)
            if run.error:
                item.setToolTip(1, run.error)
            self.runs.addTopLevelItem(item)
            if run.id == keep:
                self.runs.setCurrentItem(item)
        self.runs.blockSignals(False)
        if self.runs.currentItem() is None and self.runs.topLevelItemCount():
            self.runs.setCurrentItem(self.runs.topLevelItem(0))
        self._selection()

    def current_id(self) -> str | None:
        item = self.runs.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def _selection(self) -> None:
        run = self.by_id.get(self.current_id() or "")
        for b in (self.open_button, self.markdown_button, self.json_button, self.rerun_button):
            b.setEnabled(run is not None)
        self.resume_button.setEnabled(run is not None and run.resumable)
        self.chat_button.setEnabled(run is not None and bool(run.outputs))

    def _emit(self, signal) -> None:
        run_id = self.current_id()
        if run_id:
            signal.emit(run_id)

    def _rerun(self) -> None:
        run_id = self.current_id()
        if run_id and self.step_choice.currentText():
            self.rerun_requested.emit(run_id, self.step_choice.currentText())

    def _export(self, kind: str) -> None:
        run_id = self.current_id()
        if run_id:
            self.export_requested.emit(run_id, kind)
