"""One prompt on 2–6 models side by side: live columns, measurements, blind votes, leaderboard, history."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.services import Services
from ...core.tester import history
from ...core.tester.ratings import leaderboard
from ...core.tester.runner import ColumnResult, Comparison, cheapest, fastest
from .. import ops

if TYPE_CHECKING:
    from ...core.tester.batch import BatchRun
    from ...core.tester.history import RunView
    from ...core.tester.ratings import Vote

PAINT_MS = 50


class Column(QFrame):
    def __init__(self, index: int, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.lineEdit().setPlaceholderText("provider:model")
        self.title = QLabel(f"Column {index + 1}")
        self.title.setObjectName("messageHeader")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        settings = QHBoxLayout()
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(-0.01, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setSpecialValueText("shared")
        self.temperature.setValue(-0.01)
        self.temperature.setToolTip("Temperature for this column only (default: the shared setting)")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSpecialValueText("shared")
        self.max_tokens.setToolTip("Maximum tokens for this column only (default: the shared setting)")
        settings.addWidget(QLabel("temp"))
        settings.addWidget(self.temperature)
        settings.addWidget(QLabel("max"))
        settings.addWidget(self.max_tokens)
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.stop = QPushButton("Stop")
        self.stop.setEnabled(False)
        self.continue_chat = QPushButton("Continue in chat")
        self.continue_chat.setEnabled(False)
        layout.addWidget(self.model)
        layout.addLayout(settings)
        for w in (self.title, self.output, self.stats):
            layout.addWidget(w)
        row = QHBoxLayout()
        row.addWidget(self.stop)
        row.addWidget(self.continue_chat)
        layout.addLayout(row)


class TesterWindow(QWidget):
    templates_changed = Signal()  # the bus may publish from the database thread; Qt queues this over

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Model tester")
        self.resize(1200, 760)
        self.comparison: Comparison | None = None
        self.run_id: str | None = None
        self.order: list[int] = []
        self.template_name: str | None = None  # the template the prompt came from, saved with the run
        self._template_system: str | None = None  # the system prompt that template put in the form
        self._templates: list = []
        self._votes: list[Vote] = []  # what the leaderboard shows, loaded when its tab opens

        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)

        compare = QWidget()
        c_layout = QVBoxLayout(compare)
        top = QHBoxLayout()
        self.count = QSpinBox()
        self.count.setRange(2, 6)
        self.count.setValue(2)
        self.count.valueChanged.connect(self._set_columns)
        self.blind = QCheckBox("Blind (hide names, shuffle)")
        self.category = QLineEdit()
        self.category.setPlaceholderText("category (optional)")
        self.system = QLineEdit()
        self.system.setPlaceholderText("system prompt (optional)")
        self.template_picker = QComboBox()
        self.template_picker.setToolTip("Fill the prompt (and system prompt) from a prompt template")
        self.template_picker.addItem("Template…", None)
        self.template_picker.activated.connect(self._template_chosen)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(-0.01, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setSpecialValueText("default")
        self.temperature.setValue(-0.01)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSpecialValueText("default")
        for w in (QLabel("Columns"), self.count, self.blind, self.category, self.system, self.template_picker, QLabel("Temperature"),
                  self.temperature, QLabel("Max tokens"), self.max_tokens):  # fmt: skip
            top.addWidget(w)
        c_layout.addLayout(top)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("The prompt every model gets")
        self.prompt.setFixedHeight(80)
        c_layout.addWidget(self.prompt)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run all")
        self.run_button.clicked.connect(self.run)
        self.stop_all = QPushButton("Stop all")
        self.stop_all.clicked.connect(lambda: self.comparison and self.comparison.stop_all())
        self.status = QLabel("")
        for w in (self.run_button, self.stop_all, self.status):
            buttons.addWidget(w)
        buttons.addStretch(1)
        c_layout.addLayout(buttons)
        self.columns_row = QHBoxLayout()
        c_layout.addLayout(self.columns_row, 1)
        self.vote_row = QHBoxLayout()
        self.vote_buttons = {}
        for outcome, text in (
            ("left", "A is better"),
            ("right", "B is better"),
            ("tie", "Tie"),
            ("both_bad", "Both bad"),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, o=outcome: self.vote(o))
            button.setVisible(False)
            self.vote_row.addWidget(button)
            self.vote_buttons[outcome] = button
        c_layout.addLayout(self.vote_row)
        self.tabs.addTab(compare, "Compare")

        self._build_batch_tab()
        board_page = QWidget()
        board_layout = QVBoxLayout(board_page)
        self.board_category = QComboBox()
        self.board_category.currentIndexChanged.connect(lambda _i: self._show_leaderboard())
        board_layout.addWidget(self.board_category)
        self.board = QListWidget()
        board_layout.addWidget(self.board, 1)
        self.board_page = board_page
        self.tabs.addTab(board_page, "Leaderboard")
        self.history = QListWidget()
        self.history.itemActivated.connect(self.reopen)
        self.tabs.addTab(self.history, "History")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.columns: list[Column] = []
        self._set_columns(2)
        self.timer = QTimer(self)
        self.timer.setInterval(PAINT_MS)
        self.timer.timeout.connect(self._paint)
        self._fill_models()
        self.templates_changed.connect(self._load_templates)
        self._unsubscribe = services.bus.subscribe(lambda c: c.templates and self.templates_changed.emit())
        self._load_templates()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self._unsubscribe()
        super().closeEvent(event)

    # -- set-up ----------------------------------------------------------------------

    def _set_columns(self, count: int) -> None:
        while len(self.columns) < count:
            column = Column(len(self.columns))
            index = len(self.columns)
            column.stop.clicked.connect(lambda _c=False, i=index: self._stop_position(i))
            column.continue_chat.clicked.connect(lambda _c=False, i=index: self._continue(i))
            self.columns_row.addWidget(column, 1)
            self.columns.append(column)
        while len(self.columns) > count:
            self.columns.pop().deleteLater()

    def _fill_models(self) -> None:
        registry = self.services.registry

        async def load():
            models, _errors = await registry.list_all_models()
            return [m.ref for m in models]

        def done(refs: list[str]) -> None:
            for column in self.columns:
                current = column.model.currentText()
                column.model.clear()
                column.model.addItems(refs)
                column.model.setEditText(current)

        ops.query(self, "models", load, on_done=done, on_error=lambda _failure: None)

    # -- templates ---------------------------------------------------------------------

    def _load_templates(self) -> None:
        def show(templates: list) -> None:
            self._templates = templates
            self.template_picker.blockSignals(True)
            self.template_picker.clear()
            self.template_picker.addItem("Template…", None)
            for template in templates:
                self.template_picker.addItem(template.name, template.id)
            self._show_template_name()
            self.template_picker.blockSignals(False)

        ops.query(self, "templates", self.services.templates.list, on_done=show)

    def _show_template_name(self) -> None:
        index = self.template_picker.findText(self.template_name) if self.template_name else 0
        if index < 0:  # a template deleted since the run: still say which one it was
            self.template_picker.addItem(self.template_name, None)
            index = self.template_picker.count() - 1
        self.template_picker.setCurrentIndex(index)

    def _template_chosen(self, index: int) -> None:
        from ..template_fill import TemplateFillDialog

        template_id = self.template_picker.itemData(index)
        if template_id is None:
            self.template_name = None
            self._show_template_name()
            return
        dialog = TemplateFillDialog(self._templates, current=template_id, parent=self)
        dialog.accepted.connect(lambda: self._apply_template(dialog))
        dialog.rejected.connect(self._show_template_name)  # back to what was chosen before
        self.template_fill = dialog
        dialog.open()

    def _apply_template(self, dialog) -> None:
        template, rendered = dialog.template(), dialog.rendered()
        self.template_name = template.name
        self.prompt.setPlainText(rendered.prompt)
        if rendered.system:
            self.system.setText(rendered.system)
        elif self._template_system is not None and self.system.text() == self._template_system:
            self.system.clear()  # the previous template's system prompt, not one the person wrote
        self._template_system = rendered.system
        self._show_template_name()
        self.status.setText(f"Prompt from the template “{template.name}”: edit it or Run all.")

    # -- running ----------------------------------------------------------------------

    def run(self) -> None:
        from ...core.tester.history import blind_order

        models = [c.model.currentText().strip() for c in self.columns]
        prompt = self.prompt.toPlainText()
        try:
            if any(not m for m in models):
                raise ValueError("Choose a model for every column.")
            comparison = Comparison(self.services.registry, models)
            self.order = blind_order(len(models)) if self.blind.isChecked() else list(range(len(models)))
            comparison.start(
                prompt, self.system.text().strip() or None, self._shared_params(), self._column_params()
            )
        except ValueError as error:
            self.status.setText(str(error))
            return
        self.comparison = comparison
        self.run_id = None
        ops.supersede(self, "show")  # a run still loading from History must not overwrite this one
        blind = self.blind.isChecked()
        settings = {"order": self.order}
        if self.template_name:
            settings["template"] = self.template_name
        # what the form said when the run started is what gets saved with it
        save = partial(
            history.save_run, self.services.db, prompt, system=self.system.text().strip() or None,
            category=self.category.text().strip() or None, blind=blind, settings=settings, bus=self.services.bus,
        )  # fmt: skip
        for position, column in enumerate(self.columns):
            column.output.clear()
            column.stats.clear()
            column.title.setText(
                f"Model {chr(65 + position)}" if self.blind.isChecked() else models[self.order[position]]
            )
            column.model.setVisible(not self.blind.isChecked())
            column.stop.setEnabled(True)
            column.continue_chat.setEnabled(False)
        for button in self.vote_buttons.values():
            button.setVisible(False)
        self.run_button.setEnabled(False)
        self.status.setText("Running…")
        self.timer.start()

        async def wait():
            return await comparison.wait()

        # a change: whatever is shown when it ends, the run is saved
        ops.change(self, wait, on_done=lambda columns: self._finished(comparison, save, blind, columns))

    def _shared_params(self):
        from ...core.providers.types import GenerationParams

        temperature = None if self.temperature.value() < 0 else round(self.temperature.value(), 2)
        return GenerationParams(temperature=temperature, max_tokens=self.max_tokens.value() or None)

    def _column_params(self) -> list:
        """A column's own settings where it has any, else None (the shared ones apply)."""
        from ...core.providers.types import GenerationParams

        shared = self._shared_params()
        result = []
        for column in self.columns:
            own_temperature = column.temperature.value() >= 0
            own_max = column.max_tokens.value() > 0
            if not (own_temperature or own_max):
                result.append(None)
                continue
            result.append(
                GenerationParams(
                    temperature=round(column.temperature.value(), 2)
                    if own_temperature
                    else shared.temperature,
                    max_tokens=column.max_tokens.value() if own_max else shared.max_tokens,
                )
            )
        return result

    def _stop_position(self, position: int) -> None:
        if self.comparison and position < len(self.order):
            self.comparison.stop(self.order[position])

    def _paint(self) -> None:
        if self.comparison is None:
            return
        for position, column in enumerate(self.columns):
            result = self.comparison.columns[self.order[position]]
            if column.output.toPlainText() != result.text:
                column.output.setPlainText(result.text)
            column.stats.setText(self._stats(result))

    @staticmethod
    def _stats(c) -> str:
        return c.stats()

    @staticmethod
    def _marks(index: int, fastest: int | None, cheapest: int | None) -> str:
        return (" ⚡ fastest" if index == fastest else "") + (" · cheapest" if index == cheapest else "")

    def _finished(
        self,
        comparison: Comparison,
        save: Callable[[list[ColumnResult]], str],
        blind: bool,
        columns: list[ColumnResult],
    ) -> None:
        self.timer.stop()
        self.run_button.setEnabled(True)
        if comparison is not self.comparison:  # a run reopened from History is shown: save this one quietly
            ops.change(self, partial(save, columns))
            return
        self._paint()
        fastest, cheapest = comparison.fastest(), comparison.cheapest()
        for position, column in enumerate(self.columns):
            index = self.order[position]
            column.stop.setEnabled(False)
            column.stats.setText(self._stats(columns[index]) + self._marks(index, fastest, cheapest))
        self.status.setText("Saving…")
        blind_pair = blind and len(columns) == 2

        def saved(run_id: str) -> None:
            if comparison is not self.comparison:  # another run started, or one was reopened, meanwhile
                return
            self.run_id = run_id  # votes and "Continue in chat" need it
            for column in self.columns:
                column.continue_chat.setEnabled(True)
            for button in self.vote_buttons.values():
                button.setVisible(blind_pair)
            self.status.setText("Done. Vote below." if blind_pair else "Done.")

        def failed(failure: ops.Failure) -> None:
            if comparison is self.comparison:
                self.status.setText(f"The run was not saved: {failure}")

        ops.change(self, partial(save, columns), on_done=saved, on_error=failed)

    # -- batch ------------------------------------------------------------------------------

    def _build_batch_tab(self) -> None:
        from PySide6.QtWidgets import QProgressBar, QTableWidget

        page = QWidget()
        layout = QVBoxLayout(page)
        self.batch_prompts = QPlainTextEdit()
        self.batch_prompts.setPlaceholderText(
            "One prompt per paragraph (blank line between them), or Import… a CSV/JSONL with variables and checks"
        )
        layout.addWidget(self.batch_prompts, 1)
        row = QHBoxLayout()
        self.batch_models = QLineEdit()
        self.batch_models.setPlaceholderText("models, comma-separated: openai:gpt-4o-mini, local:qwen")
        self.batch_contains = QLineEdit()
        self.batch_contains.setPlaceholderText("check: reply contains (optional)")
        self.batch_concurrency = QSpinBox()
        self.batch_concurrency.setRange(1, 16)
        self.batch_concurrency.setValue(2)
        self.batch_import = QPushButton("Import…")
        self.batch_import.clicked.connect(self._import_prompts)
        self.batch_run_button = QPushButton("Run batch")
        self.batch_run_button.clicked.connect(self.run_batch)
        self.batch_cancel = QPushButton("Cancel")
        self.batch_cancel.clicked.connect(lambda: self.batch and self.batch.cancel())
        self.batch_resume = QPushButton("Resume")
        self.batch_resume.setEnabled(False)
        self.batch_resume.clicked.connect(lambda: self._start_batch())
        for w in (self.batch_models, self.batch_contains, QLabel("At once"), self.batch_concurrency, self.batch_import,
                  self.batch_run_button, self.batch_cancel, self.batch_resume):  # fmt: skip
            row.addWidget(w)
        layout.addLayout(row)
        self.batch_progress = QProgressBar()
        layout.addWidget(self.batch_progress)
        self.batch_grid = QTableWidget(0, 0)
        layout.addWidget(self.batch_grid, 2)
        exports = QHBoxLayout()
        self.batch_exports = {}
        for fmt in ("csv", "json", "html"):
            button = QPushButton(f"Export {fmt.upper()}…")
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, f=fmt: self._export_batch(f))
            exports.addWidget(button)
            self.batch_exports[fmt] = button
        exports.addStretch(1)
        layout.addLayout(exports)
        self.batch: BatchRun | None = None
        self._batch_prompts_loaded = None
        self._grid_loading = False  # a grid load is in flight: progress meanwhile asks for one more
        self._grid_stale = False
        # prompts loaded from a file or a reopened run carry their own checks; once the person edits
        # the text, what they typed is what runs
        self.batch_prompts.textChanged.connect(lambda: setattr(self, "_batch_prompts_loaded", None))
        self.tabs.addTab(page, "Batch")

    def _import_prompts(self) -> None:
        from PySide6.QtWidgets import QFileDialog

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
        self.batch_prompts.blockSignals(True)  # filled in, not edited: the loaded prompts stay in force
        self.batch_prompts.setPlainText("\n\n".join(p.text for p in prompts))
        self.batch_prompts.blockSignals(False)
        self._batch_prompts_loaded = prompts

    def run_batch(self) -> None:
        from ...core.tester.batch import BatchPrompt, BatchRun

        models = [m.strip() for m in self.batch_models.text().split(",") if m.strip()]
        if self._batch_prompts_loaded is not None:
            prompts = self._batch_prompts_loaded
        else:
            contains = self.batch_contains.text().strip()
            prompts = [BatchPrompt(block.strip(), {"contains": contains} if contains else {})
                       for block in self.batch_prompts.toPlainText().split("\n\n") if block.strip()]  # fmt: skip
        if not prompts or not models:
            self.status.setText("A batch needs prompts and at least one model.")
            return
        ops.supersede(self, "show")  # a run still loading from History must not overwrite this form
        batch = BatchRun(self.services.db, self.services.registry)
        self.batch_run_button.setEnabled(False)  # one click, one batch

        def created(_run_id: str) -> None:
            self.batch = batch
            self._start_batch()

        def failed(failure: ops.Failure) -> None:
            self.batch_run_button.setEnabled(True)
            self.status.setText(f"The batch was not created: {failure}")

        # a batch reopened from History meanwhile stays shown; this one can be resumed from there
        ops.change(
            self, partial(batch.create, prompts, models), on_done=created, on_error=failed, name="batch"
        )

    def _start_batch(self) -> None:
        from ...core.tester.batch import BatchRun

        if self.batch is None:
            return
        batch = BatchRun(self.services.db, self.services.registry, self.batch.run_id)  # a fresh cancel flag
        self.batch = batch
        batch.on_progress = lambda done, total: self._batch_progress(batch, done, total)
        self.batch_run_button.setEnabled(False)
        self.batch_resume.setEnabled(False)
        concurrency = self.batch_concurrency.value()

        async def run():
            return await batch.run(concurrency)

        ops.change(self, run, on_done=lambda _cells: self._batch_done(batch))

    def _batch_progress(self, batch: BatchRun, done: int, total: int) -> None:
        if batch is not self.batch:  # another batch was reopened: its progress is not this one's
            return
        self.batch_progress.setMaximum(total)
        self.batch_progress.setValue(done)
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

    def _batch_done(self, batch: BatchRun) -> None:
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
            self.batch_progress.setMaximum(total)
            self.batch_progress.setValue(done)
            self.batch_run_button.setEnabled(True)
            self.batch_resume.setEnabled(done < total)
            for button in self.batch_exports.values():
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

        self.batch_grid.setRowCount(len(grid))
        self.batch_grid.setColumnCount(len(plan["models"]))
        self.batch_grid.setHorizontalHeaderLabels(plan["models"])
        self.batch_grid.setVerticalHeaderLabels([p["text"][:40] for p in plan["prompts"]])
        for r, row in enumerate(grid):
            for c, cell in enumerate(row):
                if cell is None:
                    item = QTableWidgetItem("…")
                else:
                    item = QTableWidgetItem(
                        ("PASS" if cell["passed"] else "FAIL")
                        + f"  {(cell.get('total_ms') or 0) / 1000:.2f} s"
                    )
                    item.setBackground(QColor("#d7f0dd" if cell["passed"] else "#f8d7d3"))
                    item.setToolTip(cell.get("text") or cell.get("error") or "")
                self.batch_grid.setItem(r, c, item)

    def _export_batch(self, fmt: str, path: str | None = None) -> ops.Op | None:
        from PySide6.QtWidgets import QFileDialog

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
            Path(path).write_text(batch.export(fmt), encoding="utf-8")

        return ops.change(self, write, on_done=lambda _none: self.status.setText(f"Wrote {path}."))

    # -- votes, leaderboard, history -------------------------------------------------------

    def vote(self, outcome: str) -> None:
        if self.run_id is None or self.comparison is None:
            return
        comparison, run_id = self.comparison, self.run_id
        left = comparison.columns[self.order[0]].model
        right = comparison.columns[self.order[1]].model
        for button in self.vote_buttons.values():  # one vote per run
            button.setVisible(False)
        self.status.setText("Saving your vote…")

        def still_shown() -> bool:
            return comparison is self.comparison and run_id == self.run_id

        def recorded(_vote: Vote) -> None:
            if not still_shown():
                return
            for position, column in enumerate(self.columns):  # reveal
                column.title.setText(
                    f"Model {chr(65 + position)}: {comparison.columns[self.order[position]].model}"
                )
            self.status.setText(f"Vote recorded. A was {left}, B was {right}.")

        def failed(failure: ops.Failure) -> None:
            if not still_shown():
                return
            for button in self.vote_buttons.values():  # not saved: the person can vote again
                button.setVisible(True)
            self.status.setText(f"The vote was not saved: {failure}")

        services = self.services
        ops.change(
            self,
            partial(history.record_vote, services.db, run_id, left, right, outcome, bus=services.bus),
            on_done=recorded,
            on_error=failed,
        )

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.board_page:
            self.refresh_leaderboard()
        elif self.tabs.widget(index) is self.history:
            self.refresh_history()

    def refresh_leaderboard(self) -> ops.Op:
        """Read the votes once; they fill both the category list and the standings."""

        def show(votes: list[Vote]) -> None:
            self._votes = votes
            self._fill_categories()
            self._show_leaderboard()

        return ops.query(self, "board", partial(history.votes, self.services.db), on_done=show)

    def _fill_categories(self) -> None:
        categories = sorted({v.category for v in self._votes if v.category})
        current = self.board_category.currentData()
        self.board_category.blockSignals(True)
        self.board_category.clear()
        self.board_category.addItem("All categories", None)
        for category in categories:
            self.board_category.addItem(category, category)
        index = self.board_category.findData(current)
        self.board_category.setCurrentIndex(max(index, 0))
        self.board_category.blockSignals(False)

    def _show_leaderboard(self) -> None:
        self.board.clear()
        standings = leaderboard(self._votes, category=self.board_category.currentData())
        if not standings:
            self.board.addItem("No votes yet: run a blind comparison of two models and vote.")
        for rank, s in enumerate(standings, 1):
            self.board.addItem(
                f"{rank}. {s.model}   {s.rating:.0f}  ({s.low:.0f}–{s.high:.0f})   {s.votes} votes"
            )

    def refresh_history(self) -> ops.Op:
        """Fill the History tab once the runs are read (await the op to know when)."""
        return ops.query(self, "history", partial(history.runs, self.services.db), on_done=self._show_history)

    def _show_history(self, runs: list[RunView]) -> None:
        self.history.clear()
        for run in runs:
            if run.kind == "batch":
                models, prompts = run.settings.get("models", []), run.settings.get("prompts", [])
                total = len(models) * len(prompts)
                label = (f"{run.created_at:%Y-%m-%d %H:%M}  Batch · {len(prompts)} prompts × {len(models)} models · "
                         f"{len(run.columns)}/{total} done  —  {run.prompt}")  # fmt: skip
            else:
                template = f"  [{run.settings['template']}]" if run.settings.get("template") else ""
                label = (f"{run.created_at:%Y-%m-%d %H:%M}  {run.prompt.strip()[:50]}{template}  —  "
                         + ", ".join(c["model"] for c in run.columns))  # fmt: skip
            item = QListWidgetItem(label)
            item.setData(256, run.id)
            self.history.addItem(item)

    def reopen(self, item: QListWidgetItem) -> ops.Op:
        """Show a saved run once it is read; the newest request wins if several are in flight."""
        return ops.query(
            self, "show", partial(history.get_run, self.services.db, item.data(256)), on_done=self._show_run
        )

    def _show_run(self, run: RunView) -> None:
        if run.kind == "batch":  # cells, not columns: show them in the Batch tab
            self._reopen_batch(run)
            return
        self.comparison = None
        self.run_id = run.id
        self.prompt.setPlainText(run.prompt)
        self.system.setText(run.system_prompt or "")
        self.category.setText(run.category or "")
        self.template_name = run.settings.get("template")
        self._template_system = None
        self._show_template_name()
        self.count.setValue(max(2, len(run.columns)))
        self.order = run.settings.get("order") or list(range(len(run.columns)))
        saved = [ColumnResult.from_record(data) for data in run.columns]
        first, cheap = fastest(saved), cheapest(saved)
        for position, column in enumerate(self.columns[: len(run.columns)]):
            index = self.order[position]
            column.model.setEditText(saved[index].model)  # "Run all" runs the same comparison again
            column.model.setVisible(True)
            column.title.setText(saved[index].model)
            column.output.setPlainText(saved[index].text)
            column.stats.setText(self._stats(saved[index]) + self._marks(index, first, cheap))
            column.continue_chat.setEnabled(True)
        self.status.setText(
            f"Comparison of {run.created_at:%Y-%m-%d %H:%M}"
            + (f" · template “{self.template_name}”" if self.template_name else "")
        )
        self.tabs.setCurrentIndex(0)

    def _reopen_batch(self, run: RunView) -> None:
        from ...core.tester.batch import BatchPrompt, BatchRun

        ops.supersede(self, "batch")  # a batch still being created does not replace this one
        self.batch = BatchRun(self.services.db, self.services.registry, run.id)
        plan = run.settings
        # the form shows the plan, checks included, so Run batch repeats it as it was
        self._show_loaded_prompts([BatchPrompt(p["text"], p.get("checks") or {}, p.get("label"))
                                   for p in plan.get("prompts", [])])  # fmt: skip
        self.batch_models.setText(", ".join(plan.get("models", [])))
        self.tabs.setCurrentIndex(1)
        self._batch_done(self.batch)

    def _continue(self, position: int) -> None:
        if self.run_id is None:
            return
        ops.change(
            self,
            partial(history.continue_in_chat, self.services.store, self.run_id, self.order[position]),
            on_done=lambda conversation_id: self.status.setText(
                f"Opened as a conversation ({conversation_id[:8]}…) in the main window."
            ),
        )
