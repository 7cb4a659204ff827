"""One column of a comparison: its model, its own settings, the reply as it arrives, its figures."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)


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
