"""The Compare tab: one prompt on 2–6 models side by side, live columns with their figures, blind
votes among any number of columns, and a column continued as a conversation."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.tester import history
from ...core.tester.runner import ColumnResult, Comparison, blind_line, cheapest, fastest
from .. import ops
from .column import Column
from .fuse_bar import FuseBar
from .model_picker import listed_models
from .vote_panel import Judgement, VotePanel, letter

if TYPE_CHECKING:
    from ...core.services import Services
    from ...core.tester.history import RunView
    from ...core.tester.ratings import Vote

PAINT_MS = 50


class CompareTab(QWidget):
    started = Signal()  # a run began (a run still loading from History must not replace it)
    continued = Signal(str)  # "Continue in chat" made this conversation

    def __init__(self, services: Services, status: QLabel, parent=None):
        super().__init__(parent)
        self.services = services
        self.status = status
        self.comparison: Comparison | None = None
        self.run_id: str | None = None
        self.order: list[int] = []
        self.template_name: str | None = None  # the template the prompt came from, saved with the run
        self._template_system: str | None = None  # the system prompt that template put in the form
        self._templates: list = []
        self._model_refs: list[
            str
        ] = []  # every model the registry lists: each column, however added, offers them
        self._hidden = False  # a blind run not voted on yet: nothing that names a column is shown

        c_layout = QVBoxLayout(self)
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
        for w in (self.run_button, self.stop_all):
            buttons.addWidget(w)
        buttons.addStretch(1)
        c_layout.addLayout(buttons)
        self.columns_row = QHBoxLayout()
        c_layout.addLayout(self.columns_row, 1)
        self.votes = VotePanel()
        self.votes.judged.connect(self.vote)
        c_layout.addWidget(self.votes)
        self.fuse = FuseBar(services, status)  # merge the finished replies into one (a workflow)
        c_layout.addWidget(self.fuse)

        self.columns: list[Column] = []
        self._set_columns(2)
        self.timer = QTimer(self)
        self.timer.setInterval(PAINT_MS)
        self.timer.timeout.connect(self._paint)
        self._fill_models()
        self.load_templates()

    # -- set-up ----------------------------------------------------------------------

    def _set_columns(self, count: int) -> None:
        while len(self.columns) < count:
            column = Column(len(self.columns))
            index = len(self.columns)
            column.stop.clicked.connect(lambda _c=False, i=index: self._stop_position(i))
            column.continue_chat.clicked.connect(lambda _c=False, i=index: self._continue(i))
            column.model.addItems(self._model_refs)
            column.model.setEditText("")
            self.columns_row.addWidget(column, 1)
            self.columns.append(column)
        while len(self.columns) > count:
            self.columns.pop().deleteLater()

    def _fill_models(self) -> None:
        def done(refs: list[str]) -> None:
            self._model_refs = refs
            for column in self.columns:
                current = column.model.currentText()
                column.model.clear()
                column.model.addItems(refs)
                column.model.setEditText(current)
            self.fuse.set_models(refs)

        load = partial(listed_models, self.services.registry)
        ops.query(self, "models", load, on_done=done, on_error=lambda _failure: None)

    # -- templates ---------------------------------------------------------------------

    def load_templates(self) -> None:
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
        from ..templates.fill_dialog import TemplateFillDialog

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
        self.started.emit()  # a run still loading from History must not overwrite this one
        blind = self.blind.isChecked()
        settings = {"order": self.order}
        if self.template_name:
            settings["template"] = self.template_name
        # what the form said when the run started is what gets saved with it
        save = partial(
            history.save_run, self.services.db, prompt, system=self.system.text().strip() or None,
            category=self.category.text().strip() or None, blind=blind, settings=settings, bus=self.services.bus,
        )  # fmt: skip
        self._hidden = blind
        for position, column in enumerate(self.columns):
            column.output.clear()
            column.stats.clear()
            column.title.setText(f"Model {letter(position)}" if blind else models[self.order[position]])
            column.model.setVisible(not blind)
            column.stop.setEnabled(True)
            column.continue_chat.setEnabled(False)
        self.votes.setVisible(False)
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
            column.stats.setText(blind_line(result) if self._hidden else self._stats(result))

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
        for column in self.columns:
            column.stop.setEnabled(False)
        if not blind:
            self._reveal_stats(comparison)
        self.status.setText("Saving…")
        comparison_prompt = self.prompt.toPlainText()

        def saved(run_id: str) -> None:
            if comparison is not self.comparison:  # another run started, or one was reopened, meanwhile
                return
            self.run_id = run_id  # votes and "Continue in chat" need it
            self.fuse.set_answers(comparison_prompt, [c.text for c in columns if c.status == "complete"])
            for column in self.columns:
                column.continue_chat.setEnabled(not blind)  # a conversation would name the model
            if blind:
                self.votes.ask(len(columns))
            self.status.setText("Done. Vote below." if blind else "Done.")

        def failed(failure: ops.Failure) -> None:
            if comparison is self.comparison:
                self.status.setText(f"The run was not saved: {failure}")

        ops.change(self, partial(save, columns), on_done=saved, on_error=failed)

    def _reveal_stats(self, comparison: Comparison) -> None:
        """Every figure, with the fastest and cheapest marked."""
        quickest, cheapest_index = comparison.fastest(), comparison.cheapest()
        for position, column in enumerate(self.columns):
            index = self.order[position]
            column.stats.setText(
                self._stats(comparison.columns[index]) + self._marks(index, quickest, cheapest_index)
            )

    def vote(self, judgement: Judgement) -> None:
        from ...core.tester.ratings import all_pairs, best_of, ranked

        if self.run_id is None or self.comparison is None:
            return
        comparison, run_id = self.comparison, self.run_id
        models = [comparison.columns[index].model for index in self.order]  # in the order shown: A, B, C…
        if judgement.kind == "best":
            chosen = best_of(models, judgement.best)
        elif judgement.kind == "rank":
            chosen = ranked(models, judgement.ranks)
        else:
            chosen = all_pairs(models, judgement.kind)
        self.votes.setVisible(False)  # one vote per run
        self.status.setText("Saving your vote…")

        def still_shown() -> bool:
            return comparison is self.comparison and run_id == self.run_id

        def recorded(_votes: list[Vote]) -> None:
            if not still_shown():
                return
            self._hidden = False
            for position, column in enumerate(self.columns):  # reveal
                column.title.setText(f"Model {letter(position)}: {models[position]}")
                column.continue_chat.setEnabled(True)
            self._reveal_stats(comparison)
            named = ", ".join(f"{letter(p)} was {m}" for p, m in enumerate(models))
            self.status.setText(f"Vote recorded. {named}.")

        def failed(failure: ops.Failure) -> None:
            if not still_shown():
                return
            self.votes.setVisible(True)  # not saved: the person can vote again
            self.status.setText(f"The vote was not saved: {failure}")

        services = self.services
        ops.change(
            self,
            partial(history.record_votes, services.db, run_id, chosen, bus=services.bus),
            on_done=recorded,
            on_error=failed,
        )

    def show_run(self, run: RunView) -> None:
        """A saved comparison, as it was: the form, each column's reply and figures."""
        self.comparison = None
        self.run_id = run.id
        self._hidden = False
        self.votes.setVisible(False)
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
        self.fuse.set_answers(run.prompt, [c.text for c in saved if c.status == "complete"])
        self.status.setText(
            f"Comparison of {run.created_at:%Y-%m-%d %H:%M}"
            + (f" · template “{self.template_name}”" if self.template_name else "")
        )

    def _continue(self, position: int) -> None:
        if self.run_id is None:
            return
        ops.change(
            self,
            partial(history.continue_in_chat, self.services.store, self.run_id, self.order[position]),
            on_done=self._continued,
        )

    def _continued(self, conversation_id: str) -> None:
        self.status.setText(f"Opened as a conversation ({conversation_id[:8]}…) in the main window.")
        self.continued.emit(conversation_id)  # the main window shows it
