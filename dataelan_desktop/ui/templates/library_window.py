"""The prompt-template library: search, filter by category, edit with live variable detection."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core.changes import Changes
from ...core.services import Services
from ...core.templates import TemplateView, template_variables
from .. import ops

ID_ROLE = Qt.ItemDataRole.UserRole


class TemplatesWindow(QWidget):
    """Every template on the left; the selected one (or a new one) in the editor on the right."""

    templates_changed = Signal()  # the bus may publish from the database thread; Qt queues this over

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Prompt templates")
        self.resize(980, 640)
        self.current: TemplateView | None = None  # None: a new template not saved yet
        self.by_id: dict[str, TemplateView] = {}
        self.dirty = False
        self._loading = False
        self._deleted: TemplateView | None = None
        self._select_after_load: str | None = None

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search templates")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self.refresh())
        self.category_filter = QComboBox()
        self.category_filter.addItem("All categories", None)
        self.category_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._selection_changed)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.new_button.clicked.connect(self.new_template)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.clicked.connect(self.duplicate)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete)
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        for w in (self.search, self.category_filter):
            left_layout.addWidget(w)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(buttons)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        self.name_edit = QLineEdit()
        self.category_edit = QLineEdit()
        self.category_edit.setPlaceholderText("e.g. writing, coding (optional)")
        self.category_completer = QCompleter([])
        self.category_edit.setCompleter(self.category_completer)
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("what it is for (optional)")
        self.system_edit = QPlainTextEdit()
        self.system_edit.setPlaceholderText("System prompt (optional); {{variables}} work here too")
        self.system_edit.setFixedHeight(70)
        self.system_edit.setTabChangesFocus(True)
        self.body_edit = QPlainTextEdit()
        self.body_edit.setPlaceholderText(
            "The prompt. Write {{name}} where a value goes, or {{name|default}} for one with a default."
        )
        self.body_edit.setTabChangesFocus(True)
        form.addRow("Name", self.name_edit)
        form.addRow("Category", self.category_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("System prompt", self.system_edit)
        form.addRow("Body", self.body_edit)
        right_layout.addLayout(form, 1)
        self.variables_label = QLabel()
        self.variables_label.setWordWrap(True)
        self.variables_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right_layout.addWidget(self.variables_label)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c5221f;")
        self.error_label.setVisible(False)
        right_layout.addWidget(self.error_label)
        actions = QHBoxLayout()
        self.status = QLabel()
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_delete)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        actions.addWidget(self.status, 1)
        actions.addWidget(self.undo_button)
        actions.addWidget(self.save_button)
        right_layout.addLayout(actions)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 680])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        for edit in (self.name_edit, self.category_edit, self.description_edit):
            edit.textChanged.connect(self._edited)
        for edit in (self.system_edit, self.body_edit):
            edit.textChanged.connect(self._edited)
        self.templates_changed.connect(self.refresh)
        unsubscribe = services.bus.subscribe(self._on_changes)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.new_template()
        self.refresh()

    # -- the list ------------------------------------------------------------------------

    def _on_changes(self, changes: Changes) -> None:
        if changes.templates:
            self.templates_changed.emit()

    def refresh(self, select_id: str | None = None) -> None:
        """Reload the list (off the GUI thread); ``select_id``, when the editor still shows that template
        unchanged, loads its saved version. The newest reload wins, and carries an older one's ``select_id``."""
        store = self.services.templates
        category, query = self.category_filter.currentData(), self.search.text()
        self._select_after_load = select_id or self._select_after_load

        def load() -> tuple[list[TemplateView], list[TemplateView]]:
            return store.list(), store.list(category=category, query=query)

        def show(loaded: tuple[list[TemplateView], list[TemplateView]]) -> None:
            select, self._select_after_load = self._select_after_load, None
            self._show(loaded[0], loaded[1], select)

        ops.query(self, "list", load, on_done=show)

    def _show(self, everything: list[TemplateView], shown: list[TemplateView], select_id: str | None) -> None:
        self.by_id = {t.id: t for t in everything}
        categories = sorted({t.category for t in everything if t.category}, key=str.casefold)
        chosen = self.category_filter.currentData()
        self.category_filter.blockSignals(True)
        self.category_filter.clear()
        self.category_filter.addItem("All categories", None)
        for category in categories:
            self.category_filter.addItem(category, category)
        self.category_filter.setCurrentIndex(max(self.category_filter.findData(chosen), 0))
        self.category_filter.blockSignals(False)
        self.category_completer.model().setStringList(categories)

        # the selection follows the editor: refreshes arrive late (a save's own and the change
        # notice's), and by then the person may have moved on to another or a new template
        keep = self.current.id if self.current else None
        self.list.blockSignals(True)  # refilling is not a choice by the person
        self.list.clear()
        for template in shown:
            item = QListWidgetItem(template.name + ("  · built-in" if template.builtin else ""))
            item.setData(ID_ROLE, template.id)
            item.setToolTip(template.description or "")
            self.list.addItem(item)
            if template.id == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if select_id in self.by_id and keep == select_id and not self.dirty:
            self._load(self.by_id[select_id])  # the saved version, as the store normalised it

    def _selection_changed(self, item: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        if not self._may_discard():
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)
            return
        template = self.by_id.get(item.data(ID_ROLE))
        if template is not None:
            self._load(template)
            self.status.setText(
                "Built-in: edit and Save, or Duplicate to keep the original."
                if template.builtin
                else f"{len(template.variables)} variable(s). Edit and Save."
            )

    # -- the editor ------------------------------------------------------------------------

    def _load(self, template: TemplateView | None) -> None:
        self._loading = True
        self.current = template
        self.name_edit.setText(template.name if template else "")
        self.category_edit.setText((template.category or "") if template else "")
        self.description_edit.setText((template.description or "") if template else "")
        self.system_edit.setPlainText((template.system_prompt or "") if template else "")
        self.body_edit.setPlainText(template.body if template else "")
        self._loading = False
        self.dirty = False
        self._show_error(None)
        self.duplicate_button.setEnabled(template is not None)
        self.delete_button.setEnabled(template is not None)
        self._show_variables()

    def _edited(self) -> None:
        if not self._loading:
            self.dirty = True
        self._show_variables()

    def _show_variables(self) -> None:
        variables = template_variables(self.body_edit.toPlainText(), self.system_edit.toPlainText())
        if not variables:
            self.variables_label.setText(
                "No variables. Write {{name}} or {{name|default}} where a value goes."
            )
            return
        parts = [v.name if v.required else f"{v.name} (default: {v.default or 'empty'})" for v in variables]
        self.variables_label.setText("Variables: " + ", ".join(parts))

    def _show_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    def _may_discard(self) -> bool:
        if not self.dirty:
            return True
        name = self.name_edit.text().strip() or "the new template"
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Discard your changes to “{name}”?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def _form(self) -> dict[str, str]:
        return {
            "name": self.name_edit.text(),
            "body": self.body_edit.toPlainText(),
            "system_prompt": self.system_edit.toPlainText(),
            "category": self.category_edit.text(),
            "description": self.description_edit.text(),
        }

    # -- actions ------------------------------------------------------------------------------

    def new_template(self) -> None:
        if not self._may_discard():
            return
        self.list.blockSignals(True)
        self.list.setCurrentItem(None)
        self.list.blockSignals(False)
        self._load(None)
        self.status.setText("New template: give it a name and a body, then Save.")
        self.name_edit.setFocus()

    def save(self) -> None:
        store, current, fields = self.services.templates, self.current, self._form()

        def write() -> TemplateView:
            if current is None:
                return store.create(fields.pop("name"), fields.pop("body"), **fields)
            return store.update(current.id, **fields)

        # on failure the message shows here and the form keeps what was typed; nothing is written
        ops.change(self, write, on_done=self._saved, on_error=self._failed)

    def _saved(self, template: TemplateView) -> None:
        self.current = template
        self.dirty = False
        self._show_error(None)
        self.duplicate_button.setEnabled(True)
        self.delete_button.setEnabled(True)
        self.status.setText(f"Saved “{template.name}”.")
        self.refresh(select_id=template.id)

    def _failed(self, failure: ops.Failure) -> None:
        self._show_error(failure.text)
        self.status.setText("Not saved.")

    def duplicate(self) -> None:
        if self.current is None:
            return
        store, fields = self.services.templates, self._form()
        taken = {t.name.casefold() for t in self.by_id.values()}
        base = fields.pop("name").strip() or self.current.name
        name, number = f"{base} (copy)", 2
        while name.casefold() in taken:
            name, number = f"{base} (copy {number})", number + 1

        ops.change(
            self,
            lambda: store.create(name, fields.pop("body"), **fields),
            on_done=self._saved,
            on_error=self._failed,
        )

    def delete(self) -> None:
        template = self.current
        if template is None:
            return

        def done(_result) -> None:
            self._deleted = template
            self.dirty = False
            self._load(None)
            self.status.setText(f"Deleted “{template.name}”.")
            self.undo_button.setVisible(True)  # the list follows the store's change notice

        ops.change(
            self, partial(self.services.templates.delete, template.id), on_done=done, on_error=self._failed
        )

    def undo_delete(self) -> None:
        if self._deleted is None:
            return
        deleted, self._deleted = self._deleted, None
        self.undo_button.setVisible(False)
        ops.change(
            self,
            partial(self.services.templates.restore, deleted.id),
            on_done=self._saved,
            on_error=self._failed,
        )
