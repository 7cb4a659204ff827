"""The run view: the inputs form, Run and Cancel, each step's status and measurements, the selected
step's output (streaming while it generates), a person's answer when a human step asks, the outputs."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.workflows.engine import HumanRequest, StepEvent
from ...core.workflows.views import RunDetail, StepRecordView
from .inputs_form import InputsForm

PAINT_MS = 50  # streaming text is painted at display rate, not per token
COLUMNS = ("Step", "Status", "Model", "Tokens", "Time", "Note")


def _key_name(step_id: str, item: int | None) -> str:
    return step_id if item is None else f"{step_id} [{item + 1}]"


class AnswerPanel(QWidget):
    """Shown when a human step asks: the question, the draft to approve or edit, Send or Later."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.question = QLabel()
        self.question.setWordWrap(True)
        self.answer = QPlainTextEdit()
        self.answer.setFixedHeight(90)
        buttons = QHBoxLayout()
        self.send_button = QPushButton("Send")
        self.later_button = QPushButton("Answer later")
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.send_button)
        layout.addWidget(self.question)
        layout.addWidget(self.answer)
        layout.addLayout(buttons)
        self.setVisible(False)
        self._future: asyncio.Future[str | None] | None = None
        self.send_button.clicked.connect(lambda: self._settle(self.answer.toPlainText()))
        self.later_button.clicked.connect(lambda: self._settle(None))

    async def ask(self, request: HumanRequest) -> str | None:
        self.question.setText(f"<b>{request.step_id}</b>: {request.prompt}")
        self.answer.setPlainText(request.draft or "")
        self.answer.setPlaceholderText("Your answer")
        self.setVisible(True)
        self.answer.setFocus()
        self._future = asyncio.get_event_loop().create_future()
        try:
            return await self._future
        finally:
            self.setVisible(False)
            self._future = None

    def _settle(self, value: str | None) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(value)


class RunPanel(QWidget):
    run_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.inputs = InputsForm()
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("Not run yet.")
        self.status.setWordWrap(True)
        self.steps = QTreeWidget()
        self.steps.setHeaderLabels(list(COLUMNS))
        self.steps.setRootIsDecorated(False)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("The selected step's output")
        self.answer = AnswerPanel()
        self.outputs = QPlainTextEdit()
        self.outputs.setReadOnly(True)
        self.outputs.setPlaceholderText("The run's outputs")

        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.cancel_button)
        top.addWidget(self.run_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.steps)
        split.addWidget(self.output)
        split.addWidget(self.outputs)
        layout = QVBoxLayout(self)
        layout.addWidget(self.inputs)
        layout.addLayout(top)
        layout.addWidget(self.answer)
        layout.addWidget(split, 1)

        self.items: dict[tuple[str, int | None], QTreeWidgetItem] = {}
        self.texts: dict[tuple[str, int | None], list[str]] = {}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(PAINT_MS)
        self._timer.timeout.connect(self._paint)
        self.run_button.clicked.connect(self.run_requested.emit)
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.steps.currentItemChanged.connect(lambda *_: self._paint(force=True))

    # -- a run going ------------------------------------------------------------------------

    def started(self) -> None:
        self.steps.clear()
        self.items.clear()
        self.texts.clear()
        self.output.clear()
        self.outputs.clear()
        self.status.setText("Running…")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._timer.start()

    def ended(self, status: str, error: str | None, outputs: dict) -> None:
        self._timer.stop()
        self._paint(force=True)
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        said = {
            "complete": "Complete.",
            "waiting": "Waiting for an answer: resume it from History.",
            "cancelled": "Cancelled: resume it from History.",
        }.get(status)
        self.status.setText(said or f"{status.capitalize()}: {error or ''}".rstrip(": "))
        self.outputs.setPlainText(_outputs_text(outputs))

    def _item(self, key: tuple[str, int | None]) -> QTreeWidgetItem:
        item = self.items.get(key)
        if item is None:
            item = QTreeWidgetItem([_key_name(*key), "", "", "", "", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, key)
            self.steps.addTopLevelItem(item)
            self.items[key] = item
            if self.steps.currentItem() is None:
                self.steps.setCurrentItem(item)
        return item

    def on_event(self, event: StepEvent) -> None:
        if event.step_id is None:
            return
        key = (event.step_id, event.item_index)
        item = self._item(key)
        if event.kind == "text":
            self.texts.setdefault(key, []).append(event.text)
            self._dirty = True
            return
        if event.kind == "started":
            self.texts[key] = []
        if event.status:
            item.setText(1, event.status)
        if event.kind in ("retry", "waiting"):
            item.setText(5, event.text[:120])
        if event.kind == "finished":
            _measures(item, event.measures or {})
            if event.stats:
                item.setText(5, event.stats)
            elif event.status in ("failed", "recovered") and event.text:
                item.setText(5, event.text[:200])
            if event.status != "failed":
                self.texts[key] = [event.text]
            self._dirty = True

    def _paint(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        current = self.steps.currentItem()
        if current is None:
            return
        key = current.data(0, Qt.ItemDataRole.UserRole)
        text = "".join(self.texts.get(key, []))
        if self.output.toPlainText() != text:
            self.output.setPlainText(text)

    # -- a recorded run ---------------------------------------------------------------------

    def show_detail(self, detail: RunDetail) -> None:
        self.steps.clear()
        self.items.clear()
        self.texts.clear()
        for record in detail.latest().values():
            item = self._item(record.key)
            _fill(item, record)
            self.texts[record.key] = [record.output or record.error or ""]
        run = detail.run
        self.status.setText(f"Run {run.id[:8]} · {run.status}" + (f": {run.error}" if run.error else ""))
        self.outputs.setPlainText(_outputs_text(dict(run.outputs)))
        self._paint(force=True)


def _measures(item: QTreeWidgetItem, m: dict) -> None:
    """Model, tokens and time of a step that just finished (live: the same columns as a reopened run)."""
    if m.get("model"):
        item.setText(2, m["model"])
    if m.get("input_tokens") is not None or m.get("output_tokens") is not None:
        item.setText(3, f"{m.get('input_tokens') or '?'} → {m.get('output_tokens') or '?'}")
    if m.get("duration_ms") is not None:
        item.setText(4, f"{m['duration_ms'] / 1000:.2f} s")


def _fill(item: QTreeWidgetItem, record: StepRecordView) -> None:
    tokens = ""
    if record.input_tokens is not None or record.output_tokens is not None:
        tokens = f"{record.input_tokens or '?'} → {record.output_tokens or '?'}"
    took = f"{record.duration_ms / 1000:.2f} s" if record.duration_ms is not None else ""
    note = record.error or ("reused" if record.reused else "")
    status = record.status + (f" (try {record.attempt})" if record.attempt > 1 else "")
    for column, value in enumerate(("", status, record.model or "", tokens, took, note[:200])):
        if column:
            item.setText(column, value)


def _outputs_text(outputs: dict) -> str:
    if len(outputs) == 1:
        return str(next(iter(outputs.values())))
    return "\n\n".join(f"## {name}\n{value}" for name, value in outputs.items())
