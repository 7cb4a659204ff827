"""The run form, generated from a workflow's typed inputs: a field of the right kind per input."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from ...core.workflows.definition import InputSpec
from ...core.workflows.values import show

MULTILINE = ("text", "list", "json")


class InputsForm(QWidget):
    """``set_inputs(specs)`` builds the fields; ``values()`` reads what the person entered (as text:
    the engine converts and checks it, so a wrong value gets the same message as on the CLI)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, QWidget] = {}
        self.specs: list[InputSpec] = []
        self.models: list[str] = []

    def set_models(self, models: list[str]) -> None:
        """Models offered in model fields (still editable: any provider:id may be typed)."""
        self.models = models
        for spec in self.specs:
            field = self.fields[spec.name]
            if spec.type == "model" and isinstance(field, QComboBox):
                current = field.currentText()
                field.clear()
                field.addItems(models)
                field.setEditText(current)

    def set_inputs(self, specs: list[InputSpec], values: dict[str, Any] | None = None) -> None:
        kept = self.values() if values is None else {}
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        self.specs = list(specs)
        for spec in specs:
            field = self._field(spec)
            self.fields[spec.name] = field
            label = spec.name + ("" if not spec.required else " *")
            if spec.description:
                field.setToolTip(spec.description)
            self.form.addRow(label, field if not isinstance(field, _PathField) else field)
            given = (values or {}).get(spec.name, kept.get(spec.name))
            if given not in (None, ""):
                self._set(spec, field, given)
            elif spec.default is not None:
                self._set(spec, field, spec.default)

    def _field(self, spec: InputSpec) -> QWidget:
        if spec.choices:
            combo = QComboBox()
            combo.addItems(list(spec.choices))
            return combo
        if spec.type == "boolean":
            return QCheckBox()
        if spec.type == "model":
            combo = QComboBox()
            combo.setEditable(True)
            combo.addItems(self.models)
            combo.setEditText("")
            combo.lineEdit().setPlaceholderText("provider:model, e.g. openai:gpt-4o-mini or local:NAME")
            return combo
        if spec.type in ("file", "folder"):
            return _PathField(folder=spec.type == "folder")
        if spec.type in MULTILINE:
            edit = QPlainTextEdit()
            edit.setTabChangesFocus(True)
            edit.setFixedHeight(80)
            if spec.type == "list":
                edit.setPlaceholderText("one item per line (or a JSON array)")
            return edit
        edit = QLineEdit()
        if spec.type in ("number", "integer"):
            edit.setPlaceholderText("a number" if spec.type == "number" else "a whole number")
        return edit

    @staticmethod
    def _set(spec: InputSpec, field: QWidget, value: Any) -> None:
        text = "\n".join(map(show, value)) if isinstance(value, list) and spec.type == "list" else show(value)
        if isinstance(field, QCheckBox):
            field.setChecked(bool(value) and str(value).lower() not in ("false", "no", "0"))
        elif isinstance(field, QComboBox):
            field.setEditText(text) if field.isEditable() else field.setCurrentText(text)
        elif isinstance(field, QPlainTextEdit):
            field.setPlainText(text)
        elif isinstance(field, _PathField):
            field.edit.setText(text)
        elif isinstance(field, QLineEdit):
            field.setText(text)

    def values(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for spec in self.specs:
            field = self.fields.get(spec.name)
            if isinstance(field, QCheckBox):
                found[spec.name] = field.isChecked()
            elif isinstance(field, QComboBox):
                found[spec.name] = field.currentText().strip()
            elif isinstance(field, QPlainTextEdit):
                found[spec.name] = field.toPlainText()
            elif isinstance(field, _PathField):
                found[spec.name] = field.edit.text().strip()
            elif isinstance(field, QLineEdit):
                found[spec.name] = field.text()
        return found


class _PathField(QWidget):
    def __init__(self, folder: bool):
        super().__init__()
        self.folder = folder
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("a folder" if folder else "a file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def _browse(self) -> None:
        if self.folder:
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", self.edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", self.edit.text())
        if path:
            self.edit.setText(path)
