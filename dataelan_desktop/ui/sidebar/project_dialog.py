"""Project settings: a project's name, the instructions its conversations start with, its default
model and the agent its new conversations answer with, in one dialog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
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

if TYPE_CHECKING:
    from ...core.chat.store import ProjectView

NO_AGENT = "No agent (plain chat)"


class ProjectDialog(QDialog):
    """Edits ``project``; :meth:`fields` is what changed, for ``ChatStore.update_project``."""

    def __init__(
        self,
        project: ProjectView,
        models: list[str],
        agents: list[tuple[str, str]],
        current_agent: str | None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(f"{project.name} — project settings")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per opening, gone when closed
        self.setMinimumWidth(520)

        self.name = QLineEdit(project.name)
        self.instructions = QPlainTextEdit(project.instructions or "")
        self.instructions.setPlaceholderText("Instructions every conversation in this project starts with")
        self.model = QComboBox()
        self.model.setEditable(True)  # a model the lists do not show yet (a server that is off) can be typed
        self.model.addItem("")  # none: the model left in the picker
        self.model.addItems(models)
        self.model.setCurrentText(project.default_model or "")
        self.model.lineEdit().setPlaceholderText("provider:model, or empty for the model in the picker")
        self.agent = QComboBox()
        self.agent.addItem(NO_AGENT, None)
        for agent_id, name in agents:
            self.agent.addItem(name, agent_id)
        self.agent.setCurrentIndex(max(0, self.agent.findData(current_agent)))
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c0392b")
        self.problem.setVisible(False)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Instructions", self.instructions)
        form.addRow("Default model", self.model)
        form.addRow("Agent", self.agent)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _accept(self) -> None:
        model = self.model.currentText().strip()
        if not self.name.text().strip():
            self._say("A project needs a name.")
        elif model and ":" not in model:
            self._say(f"'{model}' is not a model: write provider:model, for example openai:gpt-4o-mini.")
        else:
            self.accept()

    def _say(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)

    def fields(self) -> dict[str, Any]:
        """The project's fields as edited (every one: unchanged values are written back as they were)."""
        return {
            "name": self.name.text().strip(),
            "instructions": self.instructions.toPlainText().strip() or None,
            "default_model": self.model.currentText().strip() or None,
            "agent_id": self.agent.currentData(),
        }
