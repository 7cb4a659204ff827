"""Beside the composer: how full the model's context is with this conversation, and what to do when it
is longer (drop or summarise the oldest turns: this conversation's choice). Core counts; this shows."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QWidget

#: the choices as core names them (core/chat/context.py: Overflow), and as a person reads them
CHOICES = (("drop", "Drop oldest turns"), ("summarise", "Summarise oldest turns"))


class ContextMeter(QWidget):
    overflow_chosen = Signal(str)  # "drop" or "summarise", for the conversation on show

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setObjectName("contextMeter")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)  # the line beside it says it in words
        self.bar.setFixedWidth(160)
        self.bar.setMaximumHeight(12)
        self.label = QLabel("")
        self.label.setObjectName("messageHeader")
        self.choice = QComboBox()
        self.choice.setToolTip("When the conversation is longer than the model's context")
        for value, text in CHOICES:
            self.choice.addItem(text, value)
        self.choice.activated.connect(lambda i: self.overflow_chosen.emit(self.choice.itemData(i)))
        layout.addWidget(QLabel("Context"))
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        layout.addWidget(QLabel("If too long:"))
        layout.addWidget(self.choice)
        self.clear()

    def clear(self) -> None:
        self.bar.setValue(0)
        self.bar.setStyleSheet("")
        self.label.setText("")
        self.label.setToolTip("")

    def show_usage(self, usage) -> None:
        """A ContextUsage from core: the bar fills to used/limit; the line says it in words."""
        fraction = usage.fraction
        self.bar.setValue(min(1000, round(1000 * fraction)) if fraction is not None else 0)
        # over the context (with room for a reply): the bar turns red
        self.bar.setStyleSheet("QProgressBar::chunk { background: #c0392b; }" if usage.over else "")
        self.label.setText(usage.describe().removeprefix("Context: "))
        self.label.setToolTip(
            "Estimated from the text's length: this provider's tokenizer is not at hand"
            if usage.estimated
            else "Counted with the model's own tokenizer"
        )

    def set_choice(self, value: str) -> None:
        index = self.choice.findData(value)
        self.choice.setCurrentIndex(max(index, 0))

    def current_choice(self) -> str:
        return str(self.choice.currentData())
