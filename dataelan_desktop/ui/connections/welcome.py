"""First run: with nothing configured, what to do next — each one step away."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ...core.connections.discovery import FoundServer


class WelcomePanel(QWidget):
    add_key_requested = Signal()
    open_gguf_requested = Signal()
    connect_server_requested = Signal(object)  # FoundServer, or None for "enter an address"

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Welcome to Dataelan")
        title.setObjectName("welcomeTitle")
        layout.addWidget(title, alignment=Qt.AlignmentFlag.AlignHCenter)
        intro = QLabel("Choose how you want to chat. You can add more later in Settings.")
        layout.addWidget(intro, alignment=Qt.AlignmentFlag.AlignHCenter)
        self.add_key = self._choice(
            "Add an API key — OpenAI, Anthropic, OpenRouter…", self.add_key_requested.emit
        )
        self.open_gguf = self._choice(
            "Open a GGUF model file — chat offline on this computer", self.open_gguf_requested.emit
        )
        self.connect_other = self._choice(
            "Connect to a local server — Ollama, LM Studio, llama.cpp",
            lambda: self.connect_server_requested.emit(None),
        )
        for b in (self.add_key, self.open_gguf, self.connect_other):
            layout.addWidget(b)
        self.found_label = QLabel("Looking for servers on this computer…")
        self.found_label.setObjectName("messageHeader")
        layout.addWidget(self.found_label)
        self.found_buttons: list[QPushButton] = []
        self._layout = layout

    def _choice(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName("welcomeChoice")
        button.setMinimumWidth(460)
        button.clicked.connect(slot)
        return button

    def show_found(self, servers: list[FoundServer]) -> None:
        for b in self.found_buttons:
            b.deleteLater()
        self.found_buttons.clear()
        if not servers:
            self.found_label.setText("No Ollama, LM Studio or llama.cpp server is running on this computer.")
            return
        self.found_label.setText("Found on this computer:")
        for server in servers:
            models = f" — {len(server.models)} model(s)" if server.models else ""
            button = self._choice(
                f"Use {server.label} at {server.base_url}{models}",
                lambda _checked=False, s=server: self.connect_server_requested.emit(s),
            )
            self._layout.addWidget(button)
            self.found_buttons.append(button)
