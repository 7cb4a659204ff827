"""The Batch tab: prompts × models with simple checks, run a few at a time, resumable, exported."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.paths import write_text_atomically
from .. import ops
from .model_picker import ModelPicker, listed_models

if TYPE_CHECKING:
    from ...core.services import Services
    from ...core.tester.batch import BatchRun
    from ...core.tester.history import RunView


class BatchTab(QWidget):
    started = Signal()  # a batch was asked for (a run reopened meanwhile must not replace the form)

    def __init__(self, services: Services, status: QLabel, parent=None):
        super().__init__(parent)
        self.services = services
        self.status = status
        layout = QVBoxLayout(self)
        self.prompts = QPlainTextEdit()
        self.prompts.setPlaceholderText(
            "One prompt per paragraph (blank line between them), or Import… a CSV/JSONL with variables and checks"
        )
        layout.addWidget(self.prompts, 1)
        row = QHBoxLayout()
        self.models = ModelPicker()  # the same models the Compare columns offer, ticked not typed
        self.contains = QLineEdit()
        self.contains.setPlaceholderText("check: reply contains (optional)")
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 16)
        self.concurrency.setValue(2)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self.import_prompts)
        self.run_button = QPushButton("Run batch")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.batch and self.batch.cancel())
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(lambda: self.start())
        for w in (self.models, self.contains, QLabel("At once"), self.concurrency, self.import_button,
                  self.run_button, self.cancel_button, self.resume_button):  # fmt: skip
            row.addWidget(w)
        layout.addLayout(row)
        self.progress = QProgressBar()
        layout.addWidget(self.progress)
        self.grid = QTableWidget(0, 0)
        layout.addWidget(self.grid, 2)
        exports = QHBoxLayout()
        self.exports = {}
        for fmt in ("csv", "json", "html"):
            button = QPushButton(f"Export {fmt.upper()}…")
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, f=fmt: self.export(f))
            exports.addWidget(button)
            self.exports[fmt] = button
        exports.addStretch(1)
        layout.addLayout(exports)
        self.batch: BatchRun | None = None
        self._loaded_prompts = None
        self._grid_loading = False  # a grid load is in flight: progress meanwhile asks for one more
        self._grid_stale = False
        # prompts loaded from a file or a reopened run carry their own checks; once the person edits
        # the text, what they typed is what runs
        self.prompts.textChanged.connect(lambda: setattr(self, "_loaded_prompts", None))
        self.fill_models()

    def fill_models(self) -> ops.Op:
        load = partial(listed_models, self.services.registry)
        return ops.query(self, "models", load, on_done=self.models.set_models, on_error=lambda _f: None)

    def import_prompts(self) -> None:
        from ...core.tester.batch import load_prompts

        path, _ = QFileDialog.getOpenFileName(self, "Import prompts", "", "Prompts (*.csv *.jsonl *.txt)")
        if path:
            try:
                prompts = load_prompts(Path(path))
            except ValueError as error:
                self.status.setText(str(error))  # what was in the form stays
                return
            self._show_loaded_prompts(prompts)

    def _show_loaded_prompts(self, prompts: list) -> None:
        self.prompts.blockSignals(True)  # filled in, not edited: the loaded prompts stay in force
        self.prompts.setPlainText("\n\n".join(p.text for p in prompts))
        self.prompts.blockSignals(False)
        self._loaded_prompts = prompts

    def run(self) -> None:
        from ...core.tester.batch import BatchPrompt, BatchRun

        models = self.models.selected()
        if self._loaded_prompts is not None:
            prompts = self._loaded_prompts
        else:
            contains = self.contains.text().strip()
            prompts = [BatchPrompt(block.strip(), {"contains": contains} if contains else {})
                       for block in self.prompts.toPlainText().split("\n\n") if block.strip()]  # fmt: skip
        if not prompts or not models:
            self.status.setText("A batch needs prompts and at least one model ticked.")
            return
        self.started.emit()  # a run still loading from History must not overwrite this form
        batch = BatchRun(self.services.db, self.services.registry)
        self.run_button.setEnabled(False)  # one click, one batch

        def created(_run_id: str) -> None:
            self.batch = batch
            self.start()

        def failed(failure: ops.Failure) -> None:
            self.run_button.setEnabled(True)
            self.status.setText(f"The batch was not created: {failure}")

        # a batch reopened from History meanwhile stays shown; this one can be resumed from there
        ops.change(
            self, partial(batch.create, prompts, models), on_done=created, on_error=failed, name="batch"
        )

    def start(self) -> None:
        from ...core.tester.batch import BatchRun

        if self.batch is None:
            return
        batch = BatchRun(self.services.db, self.services.registry, self.batch.run_id)  # a fresh cancel flag
        self.batch = batch
        batch.on_progress = lambda done, total: self._progress(batch, done, total)
        self.run_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        concurrency = self.concurrency.value()

        async def run():
            return await batch.run(concurrency)

        ops.change(self, run, on_done=lambda _cells: self._done(batch))

    def _progress(self, batch: BatchRun, done: int, total: int) -> None:
        if batch is not self.batch:  # another batch was reopened: its progress is not this one's
            return
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self._refresh_grid()

    def _refresh_grid(self) -> None:
        """Load the grid off the GUI thread, at most one load at a time: cells that finish while one
        is in flight are picked up by a single load after it, not by one load each."""
        batch = self.batch
        if batch is None:
            return
        if self._grid_loading:
            self._grid_stale = True
            return
        self._grid_loading = True

        def show(loaded: tuple[dict, list]) -> None:
            try:
                if batch is self.batch:
                    self._show_grid(*loaded)
            finally:
                self._grid_loaded()

        def failed(failure: ops.Failure) -> None:
            self._grid_loaded()
            self.status.setText(f"The batch's grid could not be read: {failure}")

        ops.query(self, "grid", lambda: (batch.plan(), batch.grid()), on_done=show, on_error=failed)

    def _grid_loaded(self) -> None:
        self._grid_loading = False
        if self._grid_stale:
            self._grid_stale = False
            self._refresh_grid()

    def _done(self, batch: BatchRun) -> None:
        """Grid, progress and summary of ``batch``, once its run ended or it was reopened."""
        if batch is not self.batch:  # another batch was reopened meanwhile
            return

        def show(loaded: tuple[dict, list, list]) -> None:
            if batch is not self.batch:
                return
            plan, grid, cells = loaded
            self._show_grid(plan, grid)
            total = len(plan["prompts"]) * len(plan["models"])
            done = len(cells)
            self.progress.setMaximum(total)
            self.progress.setValue(done)
            self.run_button.setEnabled(True)
            self.resume_button.setEnabled(done < total)
            for button in self.exports.values():
                button.setEnabled(True)
            passed = sum(1 for c in cells if c["passed"])
            self.status.setText(
                f"Batch: {done}/{total} cells run, {passed} passed."
                + (" Resume to finish." if done < total else "")
            )

        ops.query(self, "batch summary", lambda: (batch.plan(), batch.grid(), batch.cells()), on_done=show)

    def _show_grid(self, plan: dict, grid: list) -> None:
        from PySide6.QtGui import QColor
        from PySide6.QtWidgets import QTableWidgetItem

        self.grid.setRowCount(len(grid))
        self.grid.setColumnCount(len(plan["models"]))
        self.grid.setHorizontalHeaderLabels(plan["models"])
        self.grid.setVerticalHeaderLabels([p["text"][:40] for p in plan["prompts"]])
        for r, row in enumerate(grid):
            for c, cell in enumerate(row):
                if cell is None:
                    item = QTableWidgetItem("…")
                else:
                    item = QTableWidgetItem(
                        ("PASS" if cell["passed"] else "FAIL")
                        + f"  {(cell.get('total_ms') or 0) / 1000:.2f} s"
                    )
                    # pale fills in either theme, so the text on them is always dark: the dark theme's
                    # light text on a pale green was unreadable
                    item.setBackground(QColor("#d7f0dd" if cell["passed"] else "#f8d7d3"))
                    item.setForeground(QColor("#14301c" if cell["passed"] else "#4a1410"))
                    item.setToolTip(cell.get("text") or cell.get("error") or "")
                self.grid.setItem(r, c, item)

    def export(self, fmt: str, path: str | None = None) -> ops.Op | None:
        batch = self.batch
        if batch is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export batch", f"batch.{fmt}", f"{fmt.upper()} (*.{fmt})"
            )
        if not path:
            return None

        def write() -> None:  # reading the cells and writing the file both wait on the disk
            write_text_atomically(path, batch.export(fmt))

        return ops.change(self, write, on_done=lambda _none: self.status.setText(f"Wrote {path}."))

    def reopen(self, run: RunView) -> None:
        from ...core.tester.batch import BatchPrompt, BatchRun

        ops.supersede(self, "batch")  # a batch still being created does not replace this one
        self.batch = BatchRun(self.services.db, self.services.registry, run.id)
        plan = run.settings
        # the form shows the plan, checks included, so Run batch repeats it as it was
        self._show_loaded_prompts([BatchPrompt(p["text"], p.get("checks") or {}, p.get("label"))
                                   for p in plan.get("prompts", [])])  # fmt: skip
        self.models.select(plan.get("models", []))
        self._done(self.batch)
