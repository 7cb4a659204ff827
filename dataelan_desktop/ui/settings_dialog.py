"""Settings: providers and their keys, appearance, where the data lives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
from ..core.connections.registry import BUILTIN
from ..core.connections.store import remove_provider, save_provider
from ..core.db.tables import ProviderConfig, ProviderKind
from ..core.providers.types import ModelInfo
from ..core.secrets import NoKeyringError, env_var_for, keyring_available
from ..core.services import Services
from . import tasks
from .theme import THEMES

T = TypeVar("T")

KIND_LABELS = {
    ProviderKind.OPENAI: "OpenAI",
    ProviderKind.ANTHROPIC: "Anthropic",
    ProviderKind.OPENAI_COMPATIBLE: "OpenAI-compatible (Ollama, LM Studio, vLLM, OpenRouter, llama.cpp…)",
}


@dataclass(frozen=True)
class ProviderForm:
    """What the form said when Save or Test was pressed (the save runs later, on other threads)."""

    name: str
    kind: str
    base_url: str | None
    key_env: str
    key: str


class ProvidersPage(QWidget):
    """Providers and their keys. Every database and keyring call runs off the GUI thread: the
    keyring is the Secret Service over D-Bus on Linux, which may wait for an unlock prompt."""

    changed = Signal()

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        # the newest list and form loads; an answer to an older one arrives stale and is dropped
        self._reload_seq = 0
        self._select_seq = 0
        self._loading = False  # the form is being filled for the provider just picked
        self._saving = False
        self._testing = False
        self._removing = False
        self._removable = False
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
        self._update_buttons()
        self.reload()

    # -- off the GUI thread ------------------------------------------------------------

    def _in_db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]:
        return self.services.db.in_thread(fn, *args, **kwargs)

    def _update_buttons(self) -> None:
        # nothing acts on a half-filled form, and a save in flight cannot be started twice
        self.save_button.setEnabled(not (self._saving or self._loading))
        self.test_button.setEnabled(not (self._saving or self._testing or self._loading))
        self.remove_button.setEnabled(self._removable and not (self._loading or self._removing))

    # -- the list and the form ---------------------------------------------------------

    def reload(self, select: str | None = None, note: str | None = "") -> None:
        """Refill the list, then show ``select`` (or the first provider) with ``note`` as its result."""
        self._reload_seq += 1
        seq, select_seq = self._reload_seq, self._select_seq

        async def load() -> tuple[list[str], bool]:
            configs = await self._in_db(self.services.registry.configs)
            has_keyring = await tasks.in_worker(keyring_available)
            return list(BUILTIN) + [c.name for c in configs if c.name not in BUILTIN], has_keyring

        def show(loaded: tuple[list[str], bool]) -> None:
            if seq != self._reload_seq:
                return
            names, has_keyring = loaded
            self.keyring_note.setText(
                "Keys are kept in your system keyring, never in the app's files."
                if has_keyring
                else "No system keyring is available here, so keys cannot be stored safely. "
                "Set them in environment variables instead (for example OPENAI_API_KEY)."
            )
            self.list.blockSignals(True)
            self.list.clear()
            self.list.addItems(names)
            self.list.blockSignals(False)
            if select_seq != self._select_seq:
                # the person picked a provider or pressed Add… meanwhile: keep their form
                self._mark(self.name.text().strip().lower())
                return
            target = select or (names[0] if names else None)
            if target and self._mark(target):
                self._select(target, note)

        tasks.run(load(), on_done=show, parent=self)

    def _mark(self, name: str) -> bool:
        """Highlight ``name`` in the list without asking for its form again."""
        matches = self.list.findItems(name, Qt.MatchFlag.MatchExactly) if name else []
        if matches:
            self.list.blockSignals(True)
            self.list.setCurrentItem(matches[0])
            self.list.blockSignals(False)
        return bool(matches)

    def _select(self, name: str, note: str | None = "") -> None:
        """Fill the form for ``name``; ``note`` then becomes the result line (None leaves it)."""
        if not name:
            return
        self._select_seq += 1
        seq = self._select_seq
        self._loading = True
        self._update_buttons()

        def fill(cfg: ProviderConfig | None) -> None:
            if seq != self._select_seq:
                return  # another provider was picked, or Add… pressed, before this one arrived
            kind = ProviderKind(cfg.kind) if cfg else BUILTIN.get(name, ProviderKind.OPENAI_COMPATIBLE)
            self.name.setText(name)
            self.name.setReadOnly(name in BUILTIN or cfg is not None)
            self.kind.setCurrentIndex(self.kind.findData(kind.value))
            self.kind.setEnabled(name not in BUILTIN and cfg is None)
            self.base_url.setText(cfg.base_url if cfg and cfg.base_url else "")
            self.key_env.setText(cfg.api_key_env if cfg and cfg.api_key_env else "")
            self.key.clear()  # a stored key is never shown back
            self.key.setPlaceholderText("checking the keyring…")
            self._removable = name not in BUILTIN or cfg is not None
            self._loading = False
            self._update_buttons()
            if note is not None:
                self.result.setText(note)
            env = env_var_for(name, cfg.api_key_env if cfg else None)
            # the keyring may wait for an unlock prompt: the form is usable meanwhile
            tasks.run(
                tasks.in_worker(lambda: self.services.secrets.has_stored(name)),
                on_done=lambda stored: show_key(stored, env),
                on_error=lambda _error: show_key(False, env),
            )

        def show_key(stored: bool, env: str) -> None:
            if seq == self._select_seq:
                self.key.setPlaceholderText(
                    "A key is set — type a new one to replace it"
                    if stored
                    else f"paste the key (or set {env})"
                )

        def failed(error: BaseException) -> None:
            if seq == self._select_seq:
                self._loading = False
                self._update_buttons()
                self.result.setText(f"✗ {tasks.person_message(error)}")

        tasks.run(self._in_db(self.services.registry.config, name), on_done=fill, on_error=failed)

    def _new(self) -> None:
        self._select_seq += 1  # a provider's form still on its way must not replace this one
        self._loading = False
        self._update_buttons()
        self.list.setCurrentRow(-1)  # so that picking the provider shown before fills the form again
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

    # -- saving, removing, testing -----------------------------------------------------

    def _form(self) -> ProviderForm:
        return ProviderForm(
            name=self.name.text().strip().lower(),
            kind=self.kind.currentData(),
            base_url=self.base_url.text().strip() or None,
            key_env=self.key_env.text().strip(),
            key=self.key.text().strip(),
        )

    async def _store(self, form: ProviderForm) -> None:
        if form.name not in BUILTIN or form.base_url or form.key_env:  # a default built-in needs no row
            await self._in_db(
                save_provider,
                self.services.db,
                form.name,
                base_url=form.base_url,
                kind=form.kind,
                api_key_env=form.key_env,
            )
        if form.key:
            await tasks.in_worker(
                lambda: self.services.secrets.set(form.name, form.key, form.key_env or None)
            )

    def _stored(self, name: str, note: str | None) -> None:
        """After a save: forget the cached provider, tell the app, show the saved provider."""
        self.key.clear()
        self.services.registry.invalidate(name)
        self.services.bus.publish(Changes(providers=True))
        self.reload(select=name, note=note)
        self.changed.emit()

    def _not_stored(self, error: BaseException) -> None:
        if isinstance(error, NoKeyringError):
            QMessageBox.warning(self, "Key not stored", str(error))
        else:
            QMessageBox.warning(self, "Provider", tasks.person_message(error))

    def _run_save(self, work: Awaitable[T], on_done: Callable[[T], None]) -> None:
        """Run a save with Save and Test disabled until it finished (or failed, with a message)."""
        self._saving = True
        self._update_buttons()

        def done(result: T) -> None:
            self._saving = False
            self._update_buttons()
            on_done(result)

        def failed(error: BaseException) -> None:
            self._saving = False
            self._update_buttons()
            self._not_stored(error)

        tasks.run(work, on_done=done, on_error=failed)

    def save(self) -> None:
        form = self._form()
        self._run_save(self._store(form), lambda _none: self._stored(form.name, f"Saved {form.name}."))

    def _remove(self) -> None:
        name = self.name.text().strip().lower()
        if not name:
            return
        self._removing = True
        self._update_buttons()

        async def forget() -> None:
            await self._in_db(remove_provider, self.services.db, name)
            await tasks.in_worker(lambda: self.services.secrets.delete(name))

        def removed(_none: None) -> None:
            self._removing = False
            self._update_buttons()
            self.services.registry.invalidate(name)
            self.services.bus.publish(Changes(providers=True))
            self.reload()
            self.changed.emit()

        def failed(error: BaseException) -> None:
            self._removing = False
            self._update_buttons()
            QMessageBox.warning(self, "Provider", tasks.person_message(error))

        tasks.run(forget(), on_done=removed, on_error=failed)

    def test_connection(self) -> None:
        form = self._form()

        async def save_first() -> bool:
            """A typed key, or a provider not saved yet, is saved before it is asked."""
            unsaved = (
                bool(form.name)
                and form.name not in BUILTIN
                and await self._in_db(self.services.registry.config, form.name) is None
            )
            if not (form.key or unsaved):
                return False
            await self._store(form)
            return True

        def stored(saved: bool) -> None:
            if saved:
                self._stored(form.name, note=None)  # the result line is the test's
            self._ask(form.name)

        self._run_save(save_first(), stored)

    def _ask(self, name: str) -> None:
        self.result.setText(f"Asking {name} for its models…")
        self._testing = True
        self._update_buttons()

        async def ask() -> list[ModelInfo]:
            self.services.registry.invalidate(name)
            # building a provider reads its configuration and key, and may start the network process
            provider = await tasks.in_worker(lambda: self.services.registry.get(name))
            return await provider.list_models()

        def shown() -> bool:
            self._testing = False
            self._update_buttons()
            return self.name.text().strip().lower() == name  # not if another provider is shown now

        def done(models: list[ModelInfo]) -> None:
            if shown():
                listed = ", ".join(m.id for m in models[:30]) + (" …" if len(models) > 30 else "")
                self.result.setText(f"✓ Connected: {len(models)} models. {listed}")

        def failed(error: BaseException) -> None:
            if shown():
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
