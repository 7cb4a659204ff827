"""Where a message is written: text, model, temperature, max tokens, attachments, Send/Stop."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # the chat service loads the database layer; the composer is built before it
    from ...core.chat.service import Attachment

from .context_meter import ContextMeter
from .message_edit import MessageEdit

MAX_ATTACHMENT_BYTES = 2_000_000


class Composer(QWidget):
    send_requested = Signal(str, list)  # text, attachments
    stop_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.attachments: list[Attachment] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 10)

        options = QHBoxLayout()
        self.model_picker = QComboBox()
        self.model_picker.setEditable(True)
        self.model_picker.setMinimumWidth(260)
        self.model_picker.setToolTip(
            "The model to answer: provider:model, e.g. openai:gpt-4o-mini or local:model.gguf"
        )
        self.model_picker.lineEdit().setPlaceholderText("Choose a model…")
        options.addWidget(QLabel("Model"))
        options.addWidget(self.model_picker, 1)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(-0.01, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setSpecialValueText("default")
        self.temperature.setValue(-0.01)
        self.temperature.setToolTip("Temperature (default: the model's own)")
        options.addWidget(QLabel("Temperature"))
        options.addWidget(self.temperature)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSpecialValueText("default")
        self.max_tokens.setToolTip("Maximum tokens in the reply (default: the provider's)")
        options.addWidget(QLabel("Max tokens"))
        options.addWidget(self.max_tokens)
        self.agent_picker = QComboBox()
        self.agent_picker.setToolTip("Answer with an agent: its instructions, tools, approvals and limits")
        self.agent_picker.addItem("No agent", None)
        self._wanted_agent: str | None = None  # shown once the list of agents has arrived
        self.agent_picker.currentIndexChanged.connect(
            lambda _i: setattr(self, "_wanted_agent", self.agent_picker.currentData())
        )
        options.addWidget(QLabel("Agent"))
        options.addWidget(self.agent_picker)
        layout.addLayout(options)

        self.attachment_label = QLabel()
        self.attachment_label.setObjectName("messageHeader")
        self.attachment_label.setVisible(False)
        layout.addWidget(self.attachment_label)

        row = QHBoxLayout()
        self.editor = MessageEdit()
        self.editor.setFixedHeight(84)
        self.editor.submit.connect(self._submit)
        row.addWidget(self.editor, 1)
        buttons = QVBoxLayout()
        self.attach_button = QPushButton("Attach…")
        self.attach_button.setToolTip("Add text files to the message; the model sees them with their names")
        self.attach_button.clicked.connect(self.choose_attachments)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self._submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc); the text so far is kept")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setVisible(False)
        for b in (self.attach_button, self.send_button, self.stop_button):
            buttons.addWidget(b)
        row.addLayout(buttons)
        layout.addLayout(row)
        self.context_meter = ContextMeter()
        layout.addWidget(self.context_meter)

    # -- state ---------------------------------------------------------------------

    def set_streaming(self, streaming: bool) -> None:
        self.send_button.setVisible(not streaming)
        self.stop_button.setVisible(streaming)

    def model(self) -> str:
        return self.model_picker.currentText().strip()

    def set_model(self, model: str | None) -> None:
        if not model:
            return
        index = self.model_picker.findText(model)
        if index < 0:
            self.model_picker.addItem(model)
            index = self.model_picker.findText(model)
        self.model_picker.setCurrentIndex(index)

    def set_models(self, refs: list[str]) -> None:
        current = self.model()
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        self.model_picker.addItems(refs)
        self.model_picker.blockSignals(False)
        if current:
            self.set_model(current)

    def agent_id(self) -> str | None:
        return self.agent_picker.currentData()

    def set_agents(self, agents: list[tuple[str, str]]) -> None:
        """The picker's agents as (id, name); the one chosen stays chosen while it exists."""
        wanted = self._wanted_agent
        self.agent_picker.blockSignals(True)
        self.agent_picker.clear()
        self.agent_picker.addItem("No agent", None)
        for agent_id, name in agents:
            self.agent_picker.addItem(name, agent_id)
        self.agent_picker.blockSignals(False)
        self.set_agent(wanted)

    def set_agent(self, agent_id: str | None) -> None:
        """Show ``agent_id`` (None: no agent); one not listed yet is shown when the list arrives."""
        index = self.agent_picker.findData(agent_id) if agent_id else 0
        self.agent_picker.setCurrentIndex(max(index, 0))
        self._wanted_agent = agent_id

    def temperature_value(self) -> float | None:
        return None if self.temperature.value() < 0 else round(self.temperature.value(), 2)

    def max_tokens_value(self) -> int | None:
        return self.max_tokens.value() or None

    # -- actions -------------------------------------------------------------------

    def _submit(self) -> None:
        text = self.editor.toPlainText()
        if not text.strip() and not self.attachments:
            return
        self.send_requested.emit(text, list(self.attachments))

    def insert_text(self, text: str) -> None:
        """Put ``text`` at the cursor (replacing any selection), so a template can go into a half-written message."""
        self.editor.insertPlainText(text)
        self.editor.setFocus()

    def clear_after_send(self) -> None:
        self.editor.clear()
        self.attachments.clear()
        self._show_attachments()

    def choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Attach text files")
        for path in paths:
            self.attach(Path(path))

    def attach(self, path: Path) -> bool:
        try:
            data = path.read_bytes()
        except OSError as exc:
            QMessageBox.warning(self, "Attach", f"Could not read {path.name}: {exc.strerror or exc}")
            return False
        if len(data) > MAX_ATTACHMENT_BYTES:
            QMessageBox.warning(
                self, "Attach", f"{path.name} is larger than 2 MB; attach a smaller text file."
            )
            return False
        text = data.decode("utf-8", errors="replace")
        if "\x00" in text:  # a binary file: keep it readable and say so
            text = text.replace("\x00", "")
        from ...core.chat.service import Attachment

        self.attachments.append(Attachment(path.name, text))
        self._show_attachments()
        return True

    def _show_attachments(self) -> None:
        names = ", ".join(a.name for a in self.attachments)
        self.attachment_label.setText(f"Attached: {names}  (they go with the next message)" if names else "")
        self.attachment_label.setVisible(bool(names))
