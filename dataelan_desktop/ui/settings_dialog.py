"""Settings: providers and their keys, appearance, where the data lives."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core import paths
from ..core.changes import Changes
from ..core.db.models import ProviderKind
from ..core.providers.config import remove_provider, save_provider
from ..core.providers.registry import BUILTIN
from ..core.secrets import NoKeyringError, env_var_for, keyring_available
from ..core.services import Services
from . import tasks
from .theme import THEMES

KIND_LABELS = {
    ProviderKind.OPENAI: "OpenAI",
    ProviderKind.ANTHROPIC: "Anthropic",
    ProviderKind.OPENAI_COMPATIBLE: "OpenAI-compatible (Ollama, LM Studio, vLLM, OpenRouter, llama.cpp…)",
}


class ProvidersPage(QWidget):
    changed = Signal()

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.currentTextChanged.connect(self._select)
        left.addWidget(self.list)
        add_row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self._new)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove)
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.remove_button)
        left.addLayout(add_row)
        layout.addLayout(left, 1)

        right = QVBoxLayout()
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. ollama")
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind.value)
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("http://127.0.0.1:11434/v1  (empty: the provider's default)")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("API key")
        self.key_env = QLineEdit()
        self.key_env.setPlaceholderText("optional: an environment variable holding the key")
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Base URL", self.base_url)
        form.addRow("API key", self.key)
        form.addRow("Key variable", self.key_env)
        right.addLayout(form)
        self.keyring_note = QLabel()
        self.keyring_note.setWordWrap(True)
        right.addWidget(self.keyring_note)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        right.addLayout(buttons)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.result, 1)
        layout.addLayout(right, 2)
        self.reload()

    def reload(self, select: str | None = None) -> None:
        names = list(BUILTIN) + [c.name for c in self.services.registry.configs() if c.name not in BUILTIN]
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(names)
        self.list.blockSignals(False)
        target = select or (names[0] if names else None)
        matches = self.list.findItems(target, Qt.MatchFlag.MatchExactly) if target else []
        if matches:
            self.list.setCurrentItem(matches[0])
            self._select(target)
        if not keyring_available():
            self.keyring_note.setText(
                "No system keyring is available here, so keys cannot be stored safely. "
                "Set them in environment variables instead (for example OPENAI_API_KEY)."
            )
        else:
            self.keyring_note.setText("Keys are kept in your system keyring, never in the app's files.")

    def _select(self, name: str) -> None:
        if not name:
            return
        cfg = self.services.registry.config(name)
        kind = ProviderKind(cfg.kind) if cfg else BUILTIN.get(name, ProviderKind.OPENAI_COMPATIBLE)
        self.name.setText(name)
        self.name.setReadOnly(name in BUILTIN or cfg is not None)
        self.kind.setCurrentIndex(self.kind.findData(kind.value))
        self.kind.setEnabled(name not in BUILTIN and cfg is None)
        self.base_url.setText(cfg.base_url if cfg and cfg.base_url else "")
        self.key_env.setText(cfg.api_key_env if cfg and cfg.api_key_env else "")
        self.key.clear()  # a stored key is never shown back
        env = env_var_for(name, cfg.api_key_env if cfg else None)
        stored = self.services.secrets.has_stored(name) if keyring_available() or env else False
        self.key.setPlaceholderText(
            "A key is set — type a new one to replace it" if stored else f"paste the key (or set {env})"
        )
        self.remove_button.setEnabled(name not in BUILTIN or cfg is not None)
        self.result.clear()

    def _new(self) -> None:
        self.list.clearSelection()
        self.name.clear()
        self.name.setReadOnly(False)
        self.kind.setEnabled(True)
        self.kind.setCurrentIndex(self.kind.findData(ProviderKind.OPENAI_COMPATIBLE.value))
        self.base_url.clear()
        self.key.clear()
        self.key.setPlaceholderText("optional for local servers")
        self.key_env.clear()
        self.name.setFocus()

    def save(self) -> bool:
        name = self.name.text().strip().lower()
        kind = self.kind.currentData()
        base_url = self.base_url.text().strip() or None
        try:
            if name in BUILTIN and not base_url and not self.key_env.text().strip():
                pass  # a built-in with defaults needs no row: just the key
            else:
                save_provider(
                    self.services.db,
                    name,
                    base_url=base_url,
                    kind=kind,
                    api_key_env=self.key_env.text().strip(),
                )
            key = self.key.text().strip()
            if key:
                self.services.secrets.set(name, key, self.key_env.text().strip() or None)
        except NoKeyringError as exc:
            QMessageBox.warning(self, "Key not stored", str(exc))
            return False
        except (ValueError, LookupError) as exc:
            QMessageBox.warning(self, "Provider", str(exc))
            return False
        self.key.clear()
        self.services.registry.invalidate(name)
        self.services.bus.publish(Changes(providers=True))
        self.reload(select=name)
        self.result.setText(f"Saved {name}.")
        self.changed.emit()
        return True

    def _remove(self) -> None:
        name = self.name.text().strip().lower()
        if not name:
            return
        remove_provider(self.services.db, name)
        self.services.secrets.delete(name)
        self.services.registry.invalidate(name)
        self.services.bus.publish(Changes(providers=True))
        self.reload()
        self.changed.emit()

    def test_connection(self) -> None:
        name = self.name.text().strip().lower()
        if self.key.text().strip() or (
            name and self.services.registry.config(name) is None and name not in BUILTIN
        ):
            if not self.save():
                return
        self.result.setText(f"Asking {name} for its models…")
        self.test_button.setEnabled(False)

        async def ask():
            self.services.registry.invalidate(name)
            # building a provider may start the network process and import its SDK
            provider = await asyncio.to_thread(self.services.registry.get, name)
            return await provider.list_models()

        def done(models) -> None:
            self.test_button.setEnabled(True)
            shown = ", ".join(m.id for m in models[:30]) + (" …" if len(models) > 30 else "")
            self.result.setText(f"✓ Connected: {len(models)} models. {shown}")

        def failed(error: BaseException) -> None:
            self.test_button.setEnabled(True)
            self.result.setText(f"✗ {tasks.person_message(error)}")

        tasks.run(ask(), on_done=done, on_error=failed)


class SettingsDialog(QDialog):
    theme_changed = Signal(str)
    enter_sends_changed = Signal(bool)

    def __init__(self, services: Services, settings: QSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(820, 480)
        self.settings = settings
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.providers = ProvidersPage(services)
        self.tabs.addTab(self.providers, "Providers")

        appearance = QWidget()
        form = QFormLayout(appearance)
        self.theme = QComboBox()
        self.theme.addItems([t.capitalize() for t in THEMES])
        current = str(settings.value("appearance/theme", "system"))
        self.theme.setCurrentIndex(THEMES.index(current) if current in THEMES else 0)
        self.theme.currentIndexChanged.connect(lambda i: self._set_theme(THEMES[i]))
        form.addRow("Theme", self.theme)
        self.enter_mode = QComboBox()
        self.enter_mode.addItems(["Enter sends, Shift+Enter new line", "Shift+Enter sends, Enter new line"])
        self.enter_mode.setCurrentIndex(0 if settings.value("composer/enter_sends", True, type=bool) else 1)
        self.enter_mode.currentIndexChanged.connect(self._set_enter)
        form.addRow("Sending", self.enter_mode)
        self.tabs.addTab(appearance, "Appearance")

        data = QWidget()
        data_form = QFormLayout(data)
        folder = QLabel(str(paths.data_dir()))
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        data_form.addRow("Data folder", folder)
        data_form.addRow("Database", QLabel(str(services.db.path)))
        data_form.addRow("", QLabel("Set DATAELAN_HOME to keep everything in another folder."))
        self.tabs.addTab(data, "Data")
        layout.addWidget(self.tabs)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.accept)
        layout.addWidget(close)

    def _set_theme(self, theme: str) -> None:
        self.settings.setValue("appearance/theme", theme)
        self.theme_changed.emit(theme)

    def _set_enter(self, index: int) -> None:
        self.settings.setValue("composer/enter_sends", index == 0)
        self.enter_sends_changed.emit(index == 0)
