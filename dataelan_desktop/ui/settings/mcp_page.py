"""Settings → MCP: the MCP servers agents may use, their status and the tools each lists.

Every store, keyring and server call goes through ``ui/ops.py``: saving, switching and removing run
off the GUI thread; starting a server is awaited on the loop while it runs on the MCP host's own
thread, so a server that hangs at start leaves this page (and the window) working.
"""

from __future__ import annotations

import shlex
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.agents.mcp.config import DEFAULT_START_TIMEOUT, HTTP, STDIO, McpConfigError, McpServerConfig
from ...core.agents.mcp.parse import claude_config_path
from ...core.agents.mcp.status import ServerStatus
from ...core.changes import Changes
from ...core.services import Services
from .. import ops
from ..agents.hints import hints_text
from .mcp_variables import VariablesEditor

NAME_ROLE = Qt.ItemDataRole.UserRole
#: the ops whose outcome is the result line: of those, only the newest one asked for reports
ACTION = "action"


class McpPage(QWidget):
    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.hub = services.mcp
        self._configs: dict[str, McpServerConfig] = {}
        self._statuses: dict[str, ServerStatus] = {}
        self._current: str | None = None  # the saved server the form shows; None: a new one

        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.setAccessibleName("MCP servers (ticked: enabled)")
        self.list.currentItemChanged.connect(lambda item, _before: self._pick(item))
        self.list.itemChanged.connect(self._switched)
        left.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.new_server)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        left.addLayout(row)
        self.import_button = QPushButton("Import Claude Desktop config…")
        self.import_button.clicked.connect(self.choose_import)
        left.addWidget(self.import_button)
        layout.addLayout(left, 1)

        right = QVBoxLayout()
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. files")
        self.kind = QComboBox()
        self.kind.addItem("Command (stdio)", STDIO)
        self.kind.addItem("URL (streamable HTTP)", HTTP)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.command = QLineEdit()
        self.command.setPlaceholderText("npx -y @modelcontextprotocol/server-filesystem ~/Documents")
        self.cwd = QLineEdit()
        self.cwd.setPlaceholderText("optional: the folder to start it in")
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:8000/mcp")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 3600)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(DEFAULT_START_TIMEOUT)
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Command", self.command)
        form.addRow("Folder", self.cwd)
        form.addRow("URL", self.url)
        form.addRow("Start timeout", self.timeout)
        self._form = form
        right.addLayout(form)
        self.variables_box = QGroupBox("Environment variables")
        box = QVBoxLayout(self.variables_box)
        self.variables = VariablesEditor()
        box.addWidget(self.variables)
        right.addWidget(self.variables_box)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.restart)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.start_button)
        buttons.addStretch(1)
        right.addLayout(buttons)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.status)
        self.tools = QTreeWidget()
        self.tools.setHeaderLabels(["Tool", "What it does", "The server says"])
        self.tools.setRootIsDecorated(False)
        self.tools.setToolTip("The server's own hints: shown, not trusted (calls are still asked about)")
        right.addWidget(self.tools, 1)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.result)
        layout.addLayout(right, 2)

        unsubscribe = services.bus.subscribe(self._changed)
        self.destroyed.connect(lambda *_: unsubscribe())
        self.new_server()
        self.reload()

    # -- the list ------------------------------------------------------------------------------

    def _changed(self, changes: Changes) -> None:
        if changes.mcp_servers:
            self.reload()

    def reload(self) -> None:
        store, hub = self.hub.store, self.hub
        ops.query(self, "servers", lambda: (store.list(), hub.statuses()), on_done=self._show)

    def _show(self, loaded: tuple[list[McpServerConfig], dict[str, ServerStatus]]) -> None:
        configs, statuses = loaded
        self._configs = {c.name: c for c in configs}
        self._statuses = statuses
        self.list.blockSignals(True)
        self.list.clear()
        for config in configs:
            item = QListWidgetItem(self._line(config))
            item.setData(NAME_ROLE, config.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if config.enabled else Qt.CheckState.Unchecked)
            self.list.addItem(item)
            if config.name == self._current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if self._current is not None and self._current not in self._configs:
            self.new_server()  # removed meanwhile (here or from the command line)
        self._show_status()

    def _line(self, config: McpServerConfig) -> str:
        if not config.enabled:
            return f"{config.name} — off"
        status = self._statuses.get(config.name)
        return f"{config.name} — {status.describe() if status else 'not started'}"

    def _item(self, name: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(NAME_ROLE) == name:
                return self.list.item(i)
        return None

    def _pick(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        config = self._configs.get(item.data(NAME_ROLE))
        if config is not None:
            self._fill(config)

    def _switched(self, item: QListWidgetItem) -> None:
        name, enabled = item.data(NAME_ROLE), item.checkState() == Qt.CheckState.Checked
        store, hub = self.hub.store, self.hub

        async def switch() -> None:
            await ops.blocking(store.set_enabled, name, enabled)
            await hub.refresh()  # a server switched off is stopped now

        self.result.setText(f"{'Enabling' if enabled else 'Disabling'} {name}…")

        def done(_none: None) -> None:
            self.result.setText(f"{name} is {'on' if enabled else 'off'}.")

        ops.change(self, switch, on_done=done, on_error=self._failed, name=ACTION)

    # -- the form ------------------------------------------------------------------------------

    def new_server(self) -> None:
        self._current = None
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
        self.name.clear()
        self.name.setReadOnly(False)
        self.kind.setEnabled(True)
        self.kind.setCurrentIndex(0)
        self.command.clear()
        self.cwd.clear()
        self.url.clear()
        self.timeout.setValue(DEFAULT_START_TIMEOUT)
        self.variables.load({}, frozenset())
        self._kind_changed()
        self._show_status()

    def _fill(self, config: McpServerConfig) -> None:
        self._current = config.name
        self.name.setText(config.name)
        self.name.setReadOnly(True)  # the name keys its secrets in the keyring: remove and add to rename
        self.kind.setCurrentIndex(self.kind.findData(config.transport))
        self.kind.setEnabled(False)
        self.command.setText(shlex.join([config.command, *config.args]) if config.command else "")
        self.cwd.setText(config.cwd or "")
        self.url.setText(config.url or "")
        self.timeout.setValue(config.timeout)
        if config.transport == STDIO:
            self.variables.load(dict(config.env), config.secret_env)
        else:
            self.variables.load(dict(config.headers), config.secret_headers)
        self._kind_changed()
        self._show_status()

    def _kind_changed(self) -> None:
        stdio = self.kind.currentData() == STDIO
        for widget in (self.command, self.cwd):
            widget.setVisible(stdio)
            self._form.labelForField(widget).setVisible(stdio)
        self.url.setVisible(not stdio)
        self._form.labelForField(self.url).setVisible(not stdio)
        self.variables_box.setTitle("Environment variables" if stdio else "Headers")
        self.variables.set_label("variable" if stdio else "header")

    def _read_form(self) -> tuple[McpServerConfig, dict[str, str]]:
        """The form as a config and the secret values typed; ValueError says what is wrong."""
        name = self.name.text().strip()
        variables = self.variables.read()
        enabled = self._configs[self._current].enabled if self._current in self._configs else True
        if self.kind.currentData() == STDIO:
            try:
                words = shlex.split(self.command.text())
            except ValueError:
                raise McpConfigError("The command has a quote that is not closed.") from None
            config = McpServerConfig(
                name, STDIO, command=words[0] if words else "", args=tuple(words[1:]), env=variables.plain,
                secret_env=variables.secret_names, cwd=self.cwd.text().strip() or None, enabled=enabled,
                timeout=self.timeout.value(),
            )  # fmt: skip
        else:
            config = McpServerConfig(
                name, HTTP, url=self.url.text().strip(), headers=variables.plain,
                secret_headers=variables.secret_names, enabled=enabled, timeout=self.timeout.value(),
            )  # fmt: skip
        return config, variables.secret_values

    # -- status and tools ------------------------------------------------------------------------

    def _show_status(self) -> None:
        name = self._current
        config = self._configs.get(name) if name else None
        status = self._statuses.get(name) if name else None
        self.tools.clear()
        self.start_button.setEnabled(config is not None and config.enabled)
        self.remove_button.setEnabled(config is not None)
        if config is None:
            self.status.setText("")
            self.start_button.setText("Start")
            return
        if not config.enabled:
            self.status.setText("Off: agents do not see its tools.")
        elif status is None:
            self.status.setText("Not started: it starts when an agent first needs it, or with Start.")
        else:
            self.status.setText(f"Status: {status.describe()}")
        self.start_button.setText("Start" if status is None or status.state == "stopped" else "Restart")
        for tool in status.tools if status else ():
            item = QTreeWidgetItem([tool.spec.name, tool.spec.description, hints_text(tool.annotations)])
            item.setToolTip(1, tool.spec.description)
            self.tools.addTopLevelItem(item)
        self.tools.resizeColumnToContents(0)

    # -- actions -------------------------------------------------------------------------------

    def _failed(self, failure: ops.Failure) -> None:
        self.result.setText(f"✗ {failure}")

    def save(self) -> None:
        try:
            config, secrets = self._read_form()
        except ValueError as err:
            self.result.setText(f"✗ {err}")
            return
        store = self.hub.store
        self.save_button.setEnabled(False)
        self.result.setText(f"Saving {config.name}…")

        def saved(_created: bool) -> None:
            self.save_button.setEnabled(True)
            self._current = config.name
            for row in self.variables.rows:  # a typed secret is in the keyring now: not kept on screen
                if row.secret.isChecked() and row.value.text():
                    row.value.clear()
                    row.value.setPlaceholderText("kept in the keyring — type to replace")
            self.name.setReadOnly(True)
            self.kind.setEnabled(False)
            self.result.setText(f"Saved {config.name}." + (" Starting it…" if config.enabled else ""))
            if config.enabled:
                self._start(config.name, restart=True)

        def failed(failure: ops.Failure) -> None:
            self.save_button.setEnabled(True)
            self._failed(failure)

        ops.change(self, partial(store.save, config, secrets), on_done=saved, on_error=failed)

    def restart(self) -> None:
        if self._current is not None:
            status = self._statuses.get(self._current)
            self._start(self._current, restart=status is not None and status.state != "stopped")

    def _start(self, name: str, *, restart: bool) -> None:
        hub = self.hub

        async def start() -> ServerStatus:
            await hub.refresh()  # a session made for settings since changed is stopped first
            return await (hub.restart(name) if restart else hub.start(name))

        def done(status: ServerStatus) -> None:
            self.result.setText(f"{name}: {status.describe()}")

        self.result.setText(f"Starting {name}…")
        ops.change(self, start, on_done=done, on_error=self._failed, name=ACTION)

    def remove(self) -> None:
        name = self._current
        if name is None:
            return
        store, hub = self.hub.store, self.hub

        async def remove() -> bool:
            removed = await ops.blocking(store.remove, name)
            await hub.refresh()  # its session stops
            return removed

        def done(_removed: bool) -> None:
            item = self._item(name)  # gone from the list as the message says so (the reload may lag)
            if item is not None:
                self.list.takeItem(self.list.row(item))
            self.result.setText(f"Removed {name} and its secrets.")
            self.new_server()

        ops.change(self, remove, on_done=done, on_error=self._failed, name=ACTION)

    def choose_import(self) -> None:
        default = claude_config_path()
        path, _ = QFileDialog.getOpenFileName(
            self, "Import Claude Desktop's config", str(default if default.exists() else Path.home()),
            "Claude Desktop config (*.json);;All files (*)",
        )  # fmt: skip
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        store = self.hub.store

        def done(result) -> None:
            lines = []
            if result.added:
                lines.append(f"Added {', '.join(result.added)}.")
            if result.skipped:
                lines.append(f"Kept the servers already named {', '.join(result.skipped)}.")
            lines += [f"✗ {p}" for p in result.problems]
            self.result.setText("\n".join(lines) or f"{path.name} lists no servers.")

        self.result.setText(f"Importing {path.name}…")
        ops.change(self, partial(store.import_file, path), on_done=done, on_error=self._failed, name=ACTION)
