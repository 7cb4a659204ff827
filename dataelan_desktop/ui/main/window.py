"""The main window, as a shell: the layout, the menus and their shortcuts, the status bar with its
Undo, the window's place on screen, and the other windows it opens. The work behind each part lives
with its feature: the conversation pane (ui/chat), the library (ui/sidebar), import and export
(ui/transfer), first-run set-up (ui/connections), template insertion (ui/templates)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.changes import Changes
from .. import ops
from ..chat.archived_bar import ArchivedBar
from ..chat.chat_view import ChatView
from ..chat.composer import Composer
from ..connections.welcome import WelcomePanel
from ..sidebar.sidebar import Sidebar
from ..theme import apply_theme
from .remembered import remembered_bytes, remembered_int
from .shell import Shell

# The window is shown before the database layer (SQLAlchemy, ~0.2 s of imports) is loaded: the
# features' controllers (and the modules they need) are imported once the services are attached.
if TYPE_CHECKING:
    from ...core.services import Services
    from ..chat.pane import ConversationPane
    from ..connections.first_run import FirstRun
    from ..sidebar.library import LibraryActions
    from ..templates.insert import TemplateInserter
    from ..transfer.actions import TransferActions

log = logging.getLogger(__name__)

#: the windows of the app that are not the main window (top-level: they close when it closes); the
#: one that may refuse (unsaved YAML) is asked first, so a refusal leaves every window open
TOOL_WINDOWS = ("workflows_window", "tester", "model_manager", "templates_window", "agents_window")
UNDO_SECONDS = 10


def window_settings() -> QSettings:
    """The window's settings live in the data folder (per ``DATAELAN_HOME``), not in ~/.config."""
    from ...core.paths import window_settings_path  # (no database layer: the paths module only)

    return QSettings(str(window_settings_path()), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(
        self, services: Services | None, settings: QSettings | None = None, probe_servers: bool = True
    ):
        """``services=None`` shows the window at once; :meth:`attach_services` fills it when they are ready."""
        super().__init__()
        self.services: Services | None = None
        self.settings = settings or window_settings()
        self.probe_servers = probe_servers
        self.dark = False
        self.chat: ConversationPane | None = None
        self.library: LibraryActions | None = None
        self.transfer: TransferActions | None = None
        self.first_run: FirstRun | None = None
        self.template_inserter: TemplateInserter | None = None
        self.setWindowTitle("Dataelan")
        self.resize(1180, 780)

        self.sidebar = Sidebar()
        self.chat_view = ChatView()
        self.composer = Composer()
        self.welcome = WelcomePanel()
        self.title = QLabel("")
        self.title.setObjectName("welcomeTitle")
        self.title.setContentsMargins(16, 8, 16, 0)
        self.archived_bar = ArchivedBar()
        self._lay_out()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setVisible(False)
        self.statusBar().addPermanentWidget(self.undo_button)
        self._undo: Callable[[], object] | None = None
        self.undo_button.clicked.connect(self._run_undo)

        self._unsubscribe = lambda: None
        self._build_menus()
        self.welcome.add_key_requested.connect(self.open_settings)
        self.welcome.open_gguf_requested.connect(self.open_gguf)
        self.composer.editor.enter_sends = self.settings.value("composer/enter_sends", True, type=bool)
        self.apply_theme(str(self.settings.value("appearance/theme", "system")))
        self._restore_geometry()
        if services is not None:
            self.attach_services(services)
        else:
            self._set_ready(False)
            self.statusBar().showMessage("Opening your conversations…")

    def _lay_out(self) -> None:
        chat_page = QWidget()
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addWidget(self.title)
        chat_layout.addWidget(self.archived_bar)
        chat_layout.addWidget(self.chat_view, 1)
        self.center = QStackedWidget()
        self.center.addWidget(chat_page)
        self.center.addWidget(self.welcome)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.center, 1)
        right_layout.addWidget(self.composer)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([280, 900])
        self.setCentralWidget(self.splitter)

    def attach_services(self, services: Services) -> None:
        """Connect the window to the database and providers, and load what it shows."""
        # feature edges: these modules import the core services' layers, loaded after the first paint
        from ..chat.markdown import preload
        from ..chat.pane import ConversationPane
        from ..connections.first_run import FirstRun
        from ..sidebar.library import LibraryActions
        from ..sync.indicator import SyncIndicator
        from ..templates.insert import TemplateInserter
        from ..transfer.actions import TransferActions

        self.services = services
        # the Models window's range (0 = never .. a day); a hand-edited value outside it is passed over
        idle_minutes = remembered_int(self.settings, "models/idle_unload_minutes", 0, 24 * 60)
        if idle_minutes is not None:
            services.registry.local().idle_unload_seconds = idle_minutes * 60
        from ..settings.chat_page import overflow_default

        services.chat.default_overflow = overflow_default(self.settings)
        shell = Shell(
            services, self, self.settings, self.say, self.offer_undo, self.sidebar.current_project_id
        )
        self.chat = ConversationPane(shell, self.title, self.chat_view, self.composer)
        self.chat.opened.connect(lambda _id: self.center.setCurrentIndex(0))
        self.library = LibraryActions(shell, self.sidebar, self.chat)
        self.library.refresh()  # first: the database lists while the rest of the window is built
        self.chat.started.connect(self.library.refresh)
        self.chat.shown.connect(self.archived_bar.show_for)
        self.chat.forgotten.connect(self.archived_bar.clear)
        self.archived_bar.unarchive_requested.connect(self.library.unarchive)
        self.transfer = TransferActions(shell, self.chat)
        self.first_run = FirstRun(
            shell, self.welcome, self.center, self.chat, self.sidebar, self._new_provider, self.probe_servers
        )
        self.library.listed.connect(self.first_run.update)
        self.template_inserter = TemplateInserter(shell, self.chat)
        self.sync_indicator = SyncIndicator.attach(shell)  # background sync and its status bar label
        self._unsubscribe = services.bus.subscribe(self._on_changes)
        self._set_ready(True)
        self.statusBar().clearMessage()
        self._after_first_listing(preload)
        last = self.settings.value("session/last_conversation")
        if last:
            self.chat.open(str(last), quiet=True)
        self.first_run.update()

    def _after_first_listing(self, preload: Callable[[], None]) -> None:
        """Begin what the list need not wait for once the sidebar lists the conversations (or after
        2 s if it cannot): importing markdown-it and Pygments (else the first message would, on this
        thread) takes the GIL, and the network process's start (for the model lists) a core."""
        begun = False

        def begin() -> None:
            nonlocal begun
            if not begun:
                begun = True
                ops.query(self, "preload", preload, on_error=lambda f: log.warning("preload failed: %s", f))
                self.chat.refresh_models()
                self._find_interrupted_runs()

        self.library.listed.connect(begin, Qt.ConnectionType.SingleShotConnection)
        QTimer.singleShot(2000, self, begin)

    def _find_interrupted_runs(self) -> None:
        """Workflow runs cut off when the app or a command last ended are marked so, and said: a run
        waiting for a person's answer, or half done, is otherwise found only in the Workflows window."""
        from ...core.workflows import open_store

        def say(run_ids: list[str]) -> None:
            if run_ids:
                many = len(run_ids) != 1
                self.say(
                    f"{len(run_ids)} workflow run{'s were' if many else ' was'} cut off when Dataelan last "
                    f"closed: resume {'them' if many else 'it'} in Tools → Workflows… (Ctrl+Shift+W).",
                    20000,
                )

        find = open_store(self.services).mark_interrupted
        ops.change(self, find, on_done=say,
                   on_error=lambda f: log.warning("interrupted workflow runs not checked: %s", f))  # fmt: skip

    def _set_ready(self, ready: bool) -> None:
        """Until the services are attached only the window itself, Quit and About work."""
        self.centralWidget().setEnabled(ready)
        for menu_action in self.menuBar().actions():
            for item in menu_action.menu().actions():
                if item.objectName() not in ("quit", "about"):
                    item.setEnabled(ready)

    def _on_changes(self, changes: Changes) -> None:
        """Each part redraws only what concerns it."""
        self.library.on_changes(changes)
        self.chat.on_changes(changes)
        if changes.providers or changes.local_models:
            self.first_run.update()

    # -- what the shell offers the parts -----------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        return self.chat.conversation_id if self.chat is not None else None

    @conversation_id.setter
    def conversation_id(self, value: str | None) -> None:
        self.chat.conversation_id = value

    def open_conversation(
        self, conversation_id: str, quiet: bool = False, focus_message: str | None = None
    ) -> None:
        self.chat.open(conversation_id, quiet=quiet, focus_message=focus_message)

    async def wait_until_listed(self) -> None:
        """Until the sidebar has listed the conversations once (the start-up benchmark waits for it)."""
        await self.library.listed_once.wait()

    def say(self, message: str, milliseconds: int = 0) -> None:
        self.statusBar().showMessage(message, milliseconds)

    def offer_undo(self, message: str, undo: Callable[[], object]) -> None:
        """An Undo button in the status bar for a while; ``undo`` runs as a change when pressed."""
        self._undo = undo
        self.statusBar().showMessage(message, UNDO_SECONDS * 1000)
        self.undo_button.setVisible(True)
        QTimer.singleShot(UNDO_SECONDS * 1000, self.undo_button, lambda: self.undo_button.setVisible(False))

    def _run_undo(self) -> None:
        if self._undo is not None:
            undo, self._undo = self._undo, None
            ops.change(self, undo)
        self.undo_button.setVisible(False)
        self.statusBar().clearMessage()

    # -- menus ------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        def action(menu, text, shortcut, slot, name=None):
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            if name:
                act.setObjectName(name)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        self.new_action = action(
            file_menu, "New conversation", "Ctrl+N",
            lambda: self.library.new_conversation(self.sidebar.current_project_id()),
        )  # fmt: skip
        action(file_menu, "New project…", "Ctrl+Shift+N", lambda: self.library.new_project())
        action(file_menu, "Open GGUF model…", "Ctrl+O", self.open_gguf)
        file_menu.addSeparator()
        action(file_menu, "Import conversations…", "Ctrl+I", lambda: self.transfer.import_dialog())
        action(
            file_menu, "Export conversation…", "Ctrl+E", lambda: self.transfer.export_conversation_dialog()
        )
        action(file_menu, "Export project…", None, lambda: self.transfer.export_project_dialog())
        file_menu.addSeparator()
        action(file_menu, "Quit", "Ctrl+Q", self.close, name="quit")
        edit_menu = self.menuBar().addMenu("&Edit")
        self.copy_last_action = action(
            edit_menu, "Copy last reply", "Ctrl+Shift+C", lambda: self.chat.copy_last_reply()
        )
        self.search_action = action(edit_menu, "Search messages", "Ctrl+K", self.sidebar.focus_search)
        self.stop_action = action(edit_menu, "Stop reply", "Esc", lambda: self.chat.stop())
        edit_menu.addSeparator()
        self.settings_action = action(edit_menu, "Settings…", "Ctrl+,", self.open_settings)
        self.tools_menu = self.menuBar().addMenu("&Tools")
        action(self.tools_menu, "Models…", "Ctrl+M", self.open_models)
        self.refresh_models_action = action(
            self.tools_menu, "Refresh model lists", "F5", lambda: self.chat.refresh_models(fresh=True)
        )
        action(self.tools_menu, "Model tester…", "Ctrl+T", self.open_tester)
        action(self.tools_menu, "Prompt templates…", "Ctrl+Shift+T", self.open_templates, "templatesAction")
        action(self.tools_menu, "Workflows…", "Ctrl+Shift+W", self.open_workflows, "workflowsAction")
        action(self.tools_menu, "Agents…", None, self.open_agents, "agentsAction")
        action(
            self.tools_menu, "Insert template…", "Ctrl+/", lambda: self.template_inserter.choose(),
            "insertTemplateAction",
        )  # fmt: skip
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "About Dataelan", None, self.about, name="about")

    def apply_theme(self, theme: str) -> None:
        app = QApplication.instance()
        self.dark = apply_theme(app, theme) if app else False
        self.chat_view.set_dark(self.dark)
        if self.chat is not None:
            self.chat.reload()

    # -- geometry ------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        # (a damaged or hand-edited window.ini: what is not a saved state is left out, not a traceback)
        geometry = remembered_bytes(self.settings, "window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = remembered_bytes(self.settings, "window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # the app's other windows close with it (each may ask first: unsaved YAML in Workflows)
        for name in TOOL_WINDOWS:
            other = self._open_tool_window(name, bring_forward=False)
            if other is not None and not other.close():
                event.ignore()
                return
        # the window's layout and the last conversation are this device's, kept in its settings
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        if self.conversation_id:
            self.settings.setValue("session/last_conversation", self.conversation_id)
        self.settings.sync()
        if self.services is not None:
            self.services.chat.stop_all()  # replies in flight are kept, marked stopped
        self._unsubscribe()
        super().closeEvent(event)

    # -- other windows ----------------------------------------------------------------------

    def _open_tool_window(self, name: str, bring_forward: bool = True) -> QWidget | None:
        """The tool window kept under ``name`` if it is still open (brought forward), else None."""
        window = getattr(self, name, None)
        if window is None or not shiboken6.isValid(window) or not window.isVisible():
            return None
        if bring_forward:
            window.showNormal() if window.isMinimized() else window.show()
            window.raise_()
            window.activateWindow()
        return window

    def open_settings(self):
        from ..settings.dialog import SettingsDialog

        dialog = SettingsDialog(self.services, self.settings, self)
        dialog.theme_changed.connect(self.apply_theme)
        dialog.enter_sends_changed.connect(lambda v: setattr(self.composer.editor, "enter_sends", v))
        dialog.providers.changed.connect(self.chat.refresh_models)
        dialog.chat_page.overflow_changed.connect(self._overflow_default_changed)
        self.settings_dialog = dialog
        dialog.show()
        return dialog

    def _overflow_default_changed(self, value: str) -> None:
        self.services.chat.default_overflow = value
        self.chat.reload()  # the meter shows the new default where the conversation has no choice

    def _new_provider(self) -> None:
        self.open_settings().providers.new_provider()

    def open_gguf(self) -> None:
        from ..gguf.open_file import choose_model_file

        path = choose_model_file(self)
        if path is not None:
            self.use_local_model(path)

    def use_local_model(self, path: Path) -> None:
        """Chat with a GGUF file: checked, picked in the composer, a new conversation begun."""
        from ..gguf.open_file import check_model_file

        local = self.services.registry.local()

        def usable(info) -> None:
            # a file the Models window lists is picked by its name there, not added again as a path
            ops.query(self, "model ref", lambda: local.canonical_refs([f"local:{path}"])[0],
                      on_done=lambda ref: picked(ref, info))  # fmt: skip

        def picked(ref: str, info) -> None:
            self.composer.set_model(ref)
            self.say(
                f"{path.name}: {info.architecture}, {info.parameters_label} parameters, {info.quantization}.",
                8000,
            )
            self.center.setCurrentIndex(0)
            self.library.new_conversation(self.sidebar.current_project_id(), model=ref)

        check_model_file(self, path, usable)

    def open_models(self) -> None:
        try:
            from ..gguf.model_manager import ModelManagerWindow
        except ImportError:
            QMessageBox.information(self, "Models", "Open a GGUF file with File → Open GGUF model…")
            return
        if self._open_tool_window("model_manager") is not None:
            return
        self.model_manager = ModelManagerWindow(self.services)
        self.model_manager.idle.valueChanged.connect(
            lambda m: self.settings.setValue("models/idle_unload_minutes", m)
        )
        self.model_manager.show()

    def open_tester(self) -> None:
        try:
            from ..tester import TesterWindow
        except ImportError:
            QMessageBox.information(self, "Model tester", "The model tester is not available in this build.")
            return
        if self._open_tool_window("tester") is not None:
            return  # the open one comes forward: a new one would drop a comparison in progress
        self.tester = TesterWindow(self.services)
        self.tester.conversation_continued.connect(self.continue_in_chat)
        self.tester.show()

    def continue_in_chat(self, conversation_id: str) -> None:
        """A tester column continued as a conversation: this window comes forward and shows it."""
        self.center.setCurrentIndex(0)
        self.open_conversation(conversation_id)
        self.showNormal() if self.isMinimized() else self.show()
        self.raise_()
        self.activateWindow()

    def open_templates(self) -> None:
        from ..templates.library_window import TemplatesWindow

        if getattr(self, "templates_window", None) is None:
            self.templates_window = TemplatesWindow(self.services)
        self.templates_window.show()
        self.templates_window.raise_()
        self.templates_window.activateWindow()

    def open_workflows(self) -> None:
        from ..workflows.window import WorkflowsWindow  # feature edge: loaded when first opened

        if getattr(self, "workflows_window", None) is None:
            self.workflows_window = WorkflowsWindow(self.services)
            self.workflows_window.conversation_opened.connect(self.open_conversation)
        self.workflows_window.show()
        self.workflows_window.raise_()
        self.workflows_window.activateWindow()

    def open_agents(self) -> None:
        from ..agents.agents_window import AgentsWindow  # feature edge: loaded when first opened

        if getattr(self, "agents_window", None) is None:
            self.agents_window = AgentsWindow(self.services)
        self.agents_window.show()
        self.agents_window.raise_()
        self.agents_window.activateWindow()

    def about(self) -> None:
        from ... import __version__

        QMessageBox.about(
            self, "About Dataelan", f"Dataelan Desktop {__version__}\nChat with cloud and local models."
        )
