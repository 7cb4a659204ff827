"""Fill in a template: one field per variable (defaults pre-filled), a live preview, OK once it can render."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...core.templates import RenderedPrompt, TemplateView
from ...core.templates.render import is_blank, render_parts, substitute

#: variables that usually hold a whole text get a multi-line field
LONG_VARIABLES = {"input", "text", "code", "content", "notes"}


class TemplateFillDialog(QDialog):
    """Choose a template (the picker at the top) and give its variables a value."""

    def __init__(self, templates: Sequence[TemplateView], current: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Use a prompt template")
        self.resize(620, 560)
        self.templates = list(templates)
        self.fields: dict[str, QLineEdit | QPlainTextEdit] = {}

        layout = QVBoxLayout(self)
        self.picker = QComboBox()
        for template in self.templates:
            self.picker.addItem(template.name, template.id)
        layout.addWidget(self.picker)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setObjectName("messageHeader")
        layout.addWidget(self.description)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form_host)
        layout.addWidget(QLabel("Preview"))
        self.system_preview = QLabel()
        self.system_preview.setWordWrap(True)
        layout.addWidget(self.system_preview)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        layout.addWidget(self.preview, 1)
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        layout.addWidget(self.missing)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Use")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        index = self.picker.findData(current) if current else 0
        if index < 0:
            index = self.picker.findText(current or "")
        self.picker.setCurrentIndex(max(index, 0))
        self.picker.currentIndexChanged.connect(lambda _i: self._build_fields())
        self._build_fields()

    # -- what the caller reads -----------------------------------------------------------

    def template(self) -> TemplateView | None:
        index = self.picker.currentIndex()
        return self.templates[index] if 0 <= index < len(self.templates) else None

    def values(self) -> dict[str, str]:
        return {name: _text(field) for name, field in self.fields.items()}

    def rendered(self) -> RenderedPrompt:
        template = self.template()
        if template is None:
            raise LookupError("Choose a template.")
        return render_parts(template.body, template.system_prompt, self.values())

    # -- building and updating --------------------------------------------------------------

    def _build_fields(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        template = self.template()
        self.description.setText((template.description or "") if template else "No templates yet.")
        for variable in template.variables if template else []:
            if variable.name in LONG_VARIABLES:
                field: QLineEdit | QPlainTextEdit = QPlainTextEdit()
                field.setTabChangesFocus(True)
                field.setFixedHeight(90)
                field.setPlainText(variable.default or "")
            else:
                field = QLineEdit(variable.default or "")
            field.setPlaceholderText(
                "required" if variable.required else f"optional (default: {variable.default or 'empty'})"
            )
            field.setObjectName(f"var_{variable.name}")
            field.textChanged.connect(self._update)
            self.form.addRow(variable.name, field)
            self.fields[variable.name] = field
        if self.fields:
            next(iter(self.fields.values())).setFocus()
        self._update()

    def _update(self) -> None:
        template = self.template()
        if template is None:
            self.ok_button.setEnabled(False)
            return
        values = self.values()
        missing = [v.name for v in template.variables if v.required and is_blank(values.get(v.name))]
        # the preview shows an unfilled variable as ‹name› so one sees where it goes
        shown = {
            v.name: values[v.name]
            if not is_blank(values.get(v.name))
            else (v.default if v.default is not None else f"‹{v.name}›")
            for v in template.variables
        }
        self.preview.setPlainText(substitute(template.body, shown))
        system = substitute(template.system_prompt, shown).strip() if template.system_prompt else ""
        self.system_preview.setText(f"System prompt: {system}" if system else "")
        self.system_preview.setVisible(bool(system))
        self.missing.setText(f"Fill in: {', '.join(missing)}" if missing else "")
        self.ok_button.setEnabled(not missing)


def _text(field: QLineEdit | QPlainTextEdit) -> str:
    return field.toPlainText() if isinstance(field, QPlainTextEdit) else field.text()
