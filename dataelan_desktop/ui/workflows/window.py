"""Tools → Workflows: the list; the YAML editor beside the drawn graph, checked as you type; the run
view; the run history. Reaches core only through ui/ops.py."""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.changes import Changes
from ...core.paths import write_text_atomically
from ...core.services import Services
from ...core.workflows import open_store
from ...core.workflows.definition import Workflow, WorkflowError
from ...core.workflows.engine import RunResult, StepEvent, WorkflowEngine
from ...core.workflows.export import open_as_conversation, run_json, run_markdown
from ...core.workflows.graph import dependencies
from ...core.workflows.tools import tool_caller
from ...core.workflows.views import RunDetail, WorkflowView
from .. import ops
from .graph_view import WorkflowGraph
from .history_panel import HistoryPanel
from .run_panel import RunPanel

ID_ROLE = Qt.ItemDataRole.UserRole
CHECK_AFTER_MS = 300  # validation as you type waits for a pause in typing

NEW_WORKFLOW = """\
name: New workflow
description: What it does
model: "{{inputs.model}}"
inputs:
  topic: {type: text}
  model: {type: model}
steps:
  - id: draft
    kind: llm
    prompt: "Write a short paragraph about {{inputs.topic}}."
  - id: result
    kind: output
    value: "{{draft.text}}"
"""


class WorkflowsWindow(QWidget):
    workflows_changed = Signal()
    runs_changed = Signal()
    conversation_opened = Signal(str)

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.store = open_store(services)
        self.setWindowTitle("Workflows")
        self.resize(1200, 760)
        self.current: WorkflowView | None = None
        self.checked: Workflow | None = None  # the editor's text, when it passed every check
        self.dirty = False
        self._loading = False
        self._select_after_load: str | None = None
        self.run_op: ops.Op | None = None
        self.run_id: str | None = None

        # the list
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._selection_changed)
        self.new_button = QPushButton("New")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.delete_button = QPushButton("Delete")
        self.new_button.clicked.connect(self.new_workflow)
        self.import_button.clicked.connect(self.import_dialog)
        self.export_button.clicked.connect(self.export_dialog)
        self.delete_button.clicked.connect(self.delete)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        for b in (self.new_button, self.import_button, self.export_button, self.delete_button):
            buttons.addWidget(b)
        left_layout.addLayout(buttons)

        # the editor, the run view and the history, in tabs beside the graph
        self.editor = QPlainTextEdit()
        self.editor.setFont(QFont("monospace"))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.textChanged.connect(self._edited)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        edit_tab = QWidget()
        edit_layout = QVBoxLayout(edit_tab)
        edit_layout.addWidget(self.editor, 1)
        row = QHBoxLayout()
        row.addWidget(self.error_label, 1)
        row.addWidget(self.save_button)
        edit_layout.addLayout(row)
        self.run_panel = RunPanel()
        self.run_panel.run_requested.connect(self.run)
        self.run_panel.cancel_requested.connect(self.cancel)
        self.history = HistoryPanel()
        self.history.reopen_requested.connect(self.reopen)
        self.history.resume_requested.connect(self.resume)
        self.history.rerun_requested.connect(self.rerun)
        self.history.export_requested.connect(self.export_run)
        self.history.conversation_requested.connect(self.open_conversation)
        self.tabs = QTabWidget()
        self.tabs.addTab(edit_tab, "YAML")
        self.tabs.addTab(self.run_panel, "Run")
        self.tabs.addTab(self.history, "History")
        self.graph = WorkflowGraph()

        middle = QSplitter()
        middle.addWidget(self.tabs)
        middle.addWidget(self.graph)
        middle.setSizes([560, 420])
        outer = QSplitter()
        outer.addWidget(left)
        outer.addWidget(middle)
        outer.setStretchFactor(1, 1)
        outer.setSizes([220, 980])
        QVBoxLayout(self).addWidget(outer)

        self.engine = WorkflowEngine(self.store, services.registry, templates=services.templates,
                                     tools=tool_caller(services),
                                     ask=self.run_panel.answer.ask, on_event=self._on_event)  # fmt: skip
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_AFTER_MS)
        self._check_timer.timeout.connect(self._validate_if_shown)
        self._runs_timer = QTimer(self)  # a run changes its record often: the history reloads at most 4×/s
        self._runs_timer.setSingleShot(True)
        self._runs_timer.setInterval(250)
        self._runs_timer.timeout.connect(self._refresh_history_if_shown)
        self.workflows_changed.connect(self.refresh)
        self.runs_changed.connect(self._runs_timer.start)
        unsubscribe = services.bus.subscribe(self._on_changes)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.refresh()
        self._offer_models()

    def _offer_models(self) -> None:
        """Model fields offer every provider's models (asked concurrently), the recently used first."""
        services = self.services

        async def load() -> list[str]:
            recent = await ops.blocking(services.store.recent_models)
            models, _errors = await services.registry.list_all_models()
            return list(dict.fromkeys([*recent, *(m.ref for m in models)]))

        ops.query(self, "models", load, on_done=self.run_panel.inputs.set_models, on_error=lambda _f: None)

    # -- the list --------------------------------------------------------------------------

    def _on_changes(self, changes: Changes) -> None:
        if changes.workflows:
            self.workflows_changed.emit()
        if changes.workflow_runs:
            self.runs_changed.emit()

    def refresh(self, select_id: str | None = None) -> None:
        self._select_after_load = select_id or self._select_after_load
        ops.query(self, "list", self.store.list, on_done=self._show_list)

    def _show_list(self, workflows: list[WorkflowView]) -> None:
        select, self._select_after_load = self._select_after_load, None
        keep = select or (self.current.id if self.current else None)
        self.list.blockSignals(True)
        self.list.clear()
        for w in workflows:
            item = QListWidgetItem(f"{w.name}  · v{w.version}" + ("  · example" if w.builtin else ""))
            item.setData(ID_ROLE, w)
            item.setToolTip(w.description or "")
            self.list.addItem(item)
            if w.id == keep:
                self.list.setCurrentItem(item)  # the editor already holds what was saved
        self.list.blockSignals(False)
        if self.current is None and not self.dirty and self.list.count():
            self.list.setCurrentRow(0)

    def _selection_changed(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        if self.dirty and not self._may_discard():
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)
            return
        self._load(item.data(ID_ROLE))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Closing with unsaved YAML asks first: what a person typed is not dropped silently."""
        if self.dirty and self.editor.toPlainText().strip() and not self._may_discard():
            event.ignore()
            return
        self._check_timer.stop()
        self._runs_timer.stop()
        super().closeEvent(event)

    # a timer's check or reload fires only while the window is shown: a closed (or hidden) window keeps
    # no work going, and no query is started once the app's loop is gone
    def _validate_if_shown(self) -> None:
        if self.isVisible():
            self.validate()

    def _refresh_history_if_shown(self) -> None:
        if self.isVisible():
            self.refresh_history()

    def _may_discard(self) -> bool:
        answer = QMessageBox.question(self, "Workflows", "Discard the changes to this workflow?")
        return answer == QMessageBox.StandardButton.Yes

    def _load(self, workflow: WorkflowView | None, text: str | None = None) -> None:
        self.current = workflow
        self._loading = True
        self.editor.setPlainText(workflow.yaml if workflow else (text or ""))
        self._loading = False
        self.dirty = workflow is None
        self.validate()
        self.refresh_history()

    def new_workflow(self) -> None:
        if self.dirty and not self._may_discard():
            return
        self.list.blockSignals(True)
        self.list.clearSelection()
        self.list.setCurrentItem(None)
        self.list.blockSignals(False)
        self._load(None, NEW_WORKFLOW)

    # -- editing and checking ---------------------------------------------------------------

    def _edited(self) -> None:
        if self._loading:
            return
        self.dirty = True
        self._check_timer.start()

    def validate(self) -> None:
        """Check the editor's text off the GUI thread (the model check reads the database)."""
        self._check_timer.stop()
        text = self.editor.toPlainText()

        def check() -> Workflow | WorkflowError:
            try:
                return self.store.check(text)
            except WorkflowError as error:
                return error

        ops.query(self, "validate", check, on_done=self._checked)

    def _checked(self, result: Workflow | WorkflowError) -> None:
        if isinstance(result, WorkflowError):
            self.checked = None
            self.error_label.setStyleSheet("color: #c5221f;")
            self.error_label.setText(str(result))
            self.run_panel.run_button.setEnabled(False)
            return
        self.checked = result
        self.error_label.setStyleSheet("color: #188038;")
        shape = f"{len(result.steps)} steps, {len(result.inputs)} inputs."
        if self.current is not None and not self.dirty:
            self.error_label.setText(f"Saved “{self.current.name}” (version {self.current.version}): {shape}")
        else:
            self.error_label.setText(f"OK: {shape}")
        self.graph.show_graph([(s.id, s.kind) for s in result.steps], dependencies(result))
        self.run_panel.inputs.set_inputs(list(result.inputs))
        self.history.set_steps([s.id for s in result.steps])
        self.run_panel.run_button.setEnabled(self.run_op is None or self.run_op.done())

    def save(self) -> None:
        text, workflow_id = self.editor.toPlainText(), self.current.id if self.current else None

        def saved(view: WorkflowView) -> None:
            self.dirty = self.editor.toPlainText() != text  # typing may have gone on while it saved
            self.current = view
            self.validate()  # says "Saved …" once checked (a check still pending would say "OK")
            self.refresh(select_id=view.id)

        def refused(failure: ops.Failure) -> None:
            self.error_label.setStyleSheet("color: #c5221f;")
            self.error_label.setText(failure.text)

        ops.change(self, lambda: self.store.save(text, workflow_id), on_done=saved, on_error=refused)

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a workflow", "", "Workflows (*.workflow.yaml *.yaml *.yml)"
        )
        if path:
            ops.change(
                self, lambda: self.store.import_file(path), on_done=lambda v: self.refresh(select_id=v.id)
            )

    def export_dialog(self) -> None:
        if self.current is None:
            return
        name = self.current.name.replace("/", "-") + ".workflow.yaml"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the workflow", name, "Workflows (*.workflow.yaml)"
        )
        if path:
            text = self.current.yaml
            ops.change(self, lambda: write_text_atomically(path, text))

    def delete(self) -> None:
        if self.current is None:
            return
        answer = QMessageBox.question(self, "Workflows", f"Delete the workflow “{self.current.name}”?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        workflow_id = self.current.id
        self.current = None
        self.dirty = False
        ops.change(self, lambda: self.store.delete(workflow_id))

    # -- running ------------------------------------------------------------------------------

    def _begin(self, work: Any) -> None:
        self.tabs.setCurrentWidget(self.run_panel)
        self.graph.reset_statuses()
        self.run_panel.started()
        self.run_id = None
        self.run_op = ops.change(self, work, on_done=self._finished, on_error=self._failed_to_start)

    def run(self) -> None:
        if self.checked is None or (self.run_op is not None and not self.run_op.done()):
            return
        text = self.editor.toPlainText()
        version = self.current.version if self.current and not self.dirty else 1
        workflow_id = self.current.id if self.current else None
        values = self.run_panel.inputs.values()
        self._begin(partial(self.engine.start, text, values, workflow_id=workflow_id, version=version))

    def resume(self, run_id: str) -> None:
        self._begin(partial(self.engine.resume, run_id))

    def rerun(self, run_id: str, step_id: str) -> None:
        self._begin(partial(self.engine.rerun_from, run_id, step_id, self.run_panel.inputs.values()))

    def cancel(self) -> None:
        if self.run_op is not None and not self.run_op.done():
            self.run_op.task.cancel()  # the engine records the run cancelled: resumable from History

    def _on_event(self, event: StepEvent) -> None:
        self.run_id = event.run_id
        self.run_panel.on_event(event)
        if event.kind == "run":
            self.run_panel.ended(event.status or "", event.text or None, {})
        elif event.step_id is not None and event.item_index is None and event.status:
            self.graph.set_status(event.step_id, event.status)

    def _finished(self, result: RunResult | None) -> None:
        if result is None:
            return
        self.run_panel.ended(result.status, result.error, dict(result.outputs))
        self.refresh_history()

    def _failed_to_start(self, failure: ops.Failure) -> None:
        self.run_panel.ended("failed", failure.text, {})

    # -- history ------------------------------------------------------------------------------

    def refresh_history(self) -> None:
        workflow_id = self.current.id if self.current else None
        if workflow_id is None:
            self.history.show_runs([])
            return
        ops.query(self, "runs", lambda: self.store.runs(workflow_id), on_done=self.history.show_runs)

    def reopen(self, run_id: str) -> None:
        def show(detail: RunDetail) -> None:
            self.tabs.setCurrentWidget(self.run_panel)
            self.run_panel.show_detail(detail)
            self.run_panel.inputs.set_inputs(self.run_panel.inputs.specs, dict(detail.run.inputs))
            self.graph.reset_statuses()
            for (step_id, item), record in detail.latest().items():
                if item is None:
                    self.graph.set_status(step_id, record.status)

        ops.query(self, "detail", lambda: self.store.detail(run_id), on_done=show)

    def export_run(self, run_id: str, kind: str) -> None:
        suffix = ".md" if kind == "md" else ".json"
        path, _ = QFileDialog.getSaveFileName(self, "Export the run", f"run-{run_id[:8]}{suffix}")
        if not path:
            return
        render = run_markdown if kind == "md" else run_json
        ops.change(self, lambda: write_text_atomically(path, render(self.store.detail(run_id))),
                   on_done=lambda _: self.history.note.setText(f"Exported to {path}."))  # fmt: skip

    def open_conversation(self, run_id: str) -> None:
        chat = self.services.store
        ops.change(self, lambda: open_as_conversation(chat, self.store.detail(run_id)),
                   on_done=self.conversation_opened.emit)  # fmt: skip
