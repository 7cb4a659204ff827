"""Fuse: merge the finished columns' replies into one answer with a chosen model, through the shipped
"Fuse answers" workflow; the fused answer streams in below the columns."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.workflows import open_store
from ...core.workflows.engine import RunResult, StepEvent, WorkflowEngine
from ...core.workflows.fuse import fuse_definition, fuse_inputs
from .. import ops

PAINT_MS = 50


class FuseBar(QWidget):
    def __init__(self, services, status: QLabel, parent=None):
        super().__init__(parent)
        self.services = services
        self.status = status
        self.question = ""
        self.answers: list[str] = []
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.lineEdit().setPlaceholderText("the model that fuses: provider:model")
        self.button = QPushButton("Fuse")
        self.button.setToolTip("Merge the finished replies into one answer with the chosen model")
        self.button.setEnabled(False)
        self.button.clicked.connect(self.fuse)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("The fused answer")
        self.output.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Fuse with"))
        row.addWidget(self.model, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.output)
        self._pieces: list[str] = []
        self._timer = QTimer(self)
        self._timer.setInterval(PAINT_MS)
        self._timer.timeout.connect(self._paint)
        self.op: ops.Op | None = None

    def set_models(self, refs: list[str]) -> None:
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(refs)
        self.model.setEditText(current)

    def set_answers(self, question: str, answers: list[str]) -> None:
        """The finished columns' replies (a run just ended, or one reopened from History)."""
        self.question = question
        self.answers = [a for a in answers if a.strip()]
        self.button.setEnabled(len(self.answers) >= 2)

    def fuse(self) -> None:
        try:
            inputs = fuse_inputs(self.question, self.answers, self.model.currentText())
        except ValueError as error:
            self.status.setText(str(error))
            return
        store = open_store(self.services)
        engine = WorkflowEngine(store, self.services.registry, on_event=self._on_event)

        async def run() -> RunResult:
            definition, workflow_id, version = await ops.blocking(fuse_definition, store)
            return await engine.start(definition, inputs, workflow_id=workflow_id, version=version)

        self._pieces = []
        self.output.clear()
        self.output.setVisible(True)
        self.button.setEnabled(False)
        self.status.setText("Fusing…")
        self._timer.start()
        self.op = ops.change(self, run, on_done=self._done, on_error=self._failed)

    def _on_event(self, event: StepEvent) -> None:
        if event.step_id == "fuse" and event.kind == "text":
            self._pieces.append(event.text)
        elif event.step_id == "fuse" and event.kind == "started":
            self._pieces = []

    def _paint(self) -> None:
        text = "".join(self._pieces)
        if self.output.toPlainText() != text:
            self.output.setPlainText(text)

    def _done(self, result: RunResult) -> None:
        self._timer.stop()
        self.button.setEnabled(len(self.answers) >= 2)
        if result.status == "complete":
            self.output.setPlainText(next(iter(result.outputs.values()), ""))
            self.status.setText(
                f"Fused with {self.model.currentText().strip()} (workflow run {result.run_id[:8]})."
            )
        else:
            self._paint()
            self.status.setText(f"Fuse failed: {result.error}")

    def _failed(self, failure: ops.Failure) -> None:
        self._timer.stop()
        self.button.setEnabled(len(self.answers) >= 2)
        self.status.setText(f"Fuse failed: {failure}")
