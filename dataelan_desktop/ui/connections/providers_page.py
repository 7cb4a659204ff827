"""Settings → Providers: the configured providers and their keys."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.connections.kinds import ProviderKind
from ...core.connections.registry import BUILTIN, ProviderSettings
from ...core.connections.store import ProviderForm
from ...core.providers.types import ModelInfo
from ...core.secrets import NoKeyringError, env_var_for, keyring_available
from ...core.services import Services
from .. import ops

KIND_LABELS = {
    ProviderKind.OPENAI: "OpenAI",
    ProviderKind.ANTHROPIC: "Anthropic",
    ProviderKind.OPENAI_COMPATIBLE: "OpenAI-compatible (Ollama, LM Studio, vLLM, OpenRouter, llama.cpp…)",
}


class ProvidersPage(QWidget):
    """Providers and their keys. Every database and keyring call runs off the GUI thread: the
    keyring is the Secret Service over D-Bus on Linux, which may wait for an unlock prompt."""

    changed = Signal()

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self._loading = False  # the form is being filled for the provider just picked
        self._saving = False
        self._testing = False
        self._removing = False
        self._removable = False
        self._picked = 0  # counts the person's picks (a provider, Add…): a list load keeps their form
        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.currentTextChanged.connect(self._select)
        left.addWidget(self.list)
        add_row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.new_provider)
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

    def _update_buttons(self) -> None:
        # nothing acts on a half-filled form, and a save in flight cannot be started twice
        self.save_button.setEnabled(not (self._saving or self._loading))
        self.test_button.setEnabled(not (self._saving or self._testing or self._loading))
        self.remove_button.setEnabled(self._removable and not (self._loading or self._removing))

    # -- the list and the form ---------------------------------------------------------

    def reload(self, select: str | None = None, note: str | None = "") -> None:
        """Refill the list, then show ``select`` (or the first provider) with ``note`` as its result."""
        registry = self.services.registry
        picked_before = self._picked

        def load() -> tuple[list[str], bool]:
            configs = registry.configs()
            return list(BUILTIN) + [c.name for c in configs if c.name not in BUILTIN], keyring_available()

        def show(loaded: tuple[list[str], bool]) -> None:
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
            if picked_before != self._picked:
                # the person picked a provider or pressed Add… meanwhile: keep their form
                self._mark(self.name.text().strip().lower())
                return
            target = select or (names[0] if names else None)
            if target and self._mark(target):
                self._select(target, note)

        ops.query(self, "list", load, on_done=show)

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
        self._picked += 1
        self._loading = True
        self._update_buttons()
        secrets = self.services.secrets

        def fill(cfg: ProviderSettings | None) -> None:
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
            ops.query(
                self,
                "key",
                partial(secrets.has_stored, name),
                on_done=lambda stored: show_key(stored, env),
                on_error=lambda _failure: show_key(False, env),
            )

        def show_key(stored: bool, env: str) -> None:
            self.key.setPlaceholderText(
                "A key is set — type a new one to replace it" if stored else f"paste the key (or set {env})"
            )

        def failed(failure: ops.Failure) -> None:
            self._loading = False
            self._update_buttons()
            self.result.setText(f"✗ {failure}")

        # another provider picked (or Add… pressed) before this one arrived makes it stale
        ops.query(self, "form", partial(self.services.registry.config, name), on_done=fill, on_error=failed)

    def new_provider(self) -> None:
        self._picked += 1
        ops.supersede(self, "form")  # a provider's form still on its way must not replace this one
        ops.supersede(self, "key")
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
            key_env=self.key_env.text().strip() or None,
            key=self.key.text().strip() or None,
        )

    def _stored(self, name: str, note: str | None) -> None:
        """After a save (the store told the registry and the app): show the saved provider."""
        self.key.clear()
        self.reload(select=name, note=note)
        self.changed.emit()

    def _not_stored(self, failure: ops.Failure) -> None:
        if isinstance(failure.error, NoKeyringError):
            QMessageBox.warning(self, "Key not stored", str(failure.error))
        else:
            QMessageBox.warning(self, "Provider", failure.text)

    def _run_save(self, work, on_done) -> None:
        """Run a save with Save and Test disabled until it finished (or failed, with a message)."""
        self._saving = True
        self._update_buttons()

        def done(result) -> None:
            self._saving = False
            self._update_buttons()
            on_done(result)

        def failed(failure: ops.Failure) -> None:
            self._saving = False
            self._update_buttons()
            self._not_stored(failure)

        ops.change(self, work, on_done=done, on_error=failed)

    def save(self) -> None:
        form, connections = self._form(), self.services.connections
        self._run_save(
            partial(connections.save_form, form), lambda _none: self._stored(form.name, f"Saved {form.name}.")
        )

    def _remove(self) -> None:
        name = self.name.text().strip().lower()
        if not name:
            return
        self._removing = True
        self._update_buttons()

        def removed(_removed: bool) -> None:
            self._removing = False
            self._update_buttons()
            self.reload()
            self.changed.emit()

        def failed(failure: ops.Failure) -> None:
            self._removing = False
            self._update_buttons()
            QMessageBox.warning(self, "Provider", failure.text)

        ops.change(
            self,
            partial(self.services.connections.remove, name, forget_key=True),
            on_done=removed,
            on_error=failed,
        )

    def test_connection(self) -> None:
        form, registry, connections = self._form(), self.services.registry, self.services.connections

        def save_first() -> bool:
            """A typed key, or a provider not saved yet, is saved before it is asked."""
            unsaved = bool(form.name) and form.name not in BUILTIN and registry.config(form.name) is None
            if not (form.key or unsaved):
                return False
            connections.save_form(form)
            return True

        def stored(saved: bool) -> None:
            if saved:
                self._stored(form.name, note=None)  # the result line is the test's
            self._ask(form.name)

        self._run_save(save_first, stored)

    def _ask(self, name: str) -> None:
        self.result.setText(f"Asking {name} for its models…")
        self._testing = True
        self._update_buttons()

        registry = self.services.registry

        def connect():
            registry.invalidate(name)  # a test asks afresh, with what is saved now
            # building a provider reads its configuration and key, and may start the network process
            return registry.get(name).list_models()  # a coroutine: it is awaited on the loop

        def shown() -> bool:
            self._testing = False
            self._update_buttons()
            return self.name.text().strip().lower() == name  # not if another provider is shown now

        def done(models: list[ModelInfo]) -> None:
            if shown():
                listed = ", ".join(m.id for m in models[:30]) + (" …" if len(models) > 30 else "")
                self.result.setText(f"✓ Connected: {len(models)} models. {listed}")

        def failed(failure: ops.Failure) -> None:
            if shown():
                self.result.setText(f"✗ {failure}")

        ops.query(self, "test", connect, on_done=done, on_error=failed)
