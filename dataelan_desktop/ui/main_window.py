"""The main window: sidebar of projects and conversations, the chat view, the composer."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.changes import Changes
from ..core.providers.types import GenerationParams
from . import ops
from .chat_view import ChatView
from .composer import Composer
from .message_widget import MessageView
from .sidebar import ConversationRow, ProjectRow, Sidebar
from .theme import apply_theme
from .welcome import WelcomePanel

# The window is shown before the database layer (SQLAlchemy, ~0.2 s of imports) is loaded:
# modules that need it are imported where they are used, after the services are attached.
if TYPE_CHECKING:
    from ..core.chat.store import ShownConversation
    from ..core.services import Services

log = logging.getLogger(__name__)
PAINT_INTERVAL_MS = 33  # ~30 Hz: streaming text is coalesced and painted at display rate


def _message_views(shown: ShownConversation) -> list[MessageView]:
    """The visible branch as what the message widgets show (built on the worker, not the GUI thread)."""
    views = []
    for item in shown.messages:
        m = item.message
        views.append(
            MessageView(
                id=m.id, role=m.role, content=m.content, status=m.status, model=m.model, error=m.error,
                input_tokens=m.input_tokens, output_tokens=m.output_tokens, ttft_ms=m.ttft_ms,
                duration_ms=m.duration_ms, generation_ms=m.generation_ms, usage_estimated=m.usage_estimated,
                stop_reason=m.stop_reason, branch_index=item.branch_index, branch_count=item.branch_count,
                attachments=tuple(a.get("name", "file") for a in m.attachments),
            )
        )  # fmt: skip
    return views


class MainWindow(QMainWindow):
    #: how many conversations the sidebar lists at first; "Show more" adds as many again
    SIDEBAR_PAGE = 300

    def __init__(
        self, services: Services | None, settings: QSettings | None = None, probe_servers: bool = True
    ):
        """``services=None`` shows the window at once; :meth:`attach_services` fills it when they are ready."""
        super().__init__()
        self.services: Services | None = None
        self.settings = settings or QSettings("Dataelan", "Dataelan Desktop")
        self.probe_servers = probe_servers
        self.conversation_id: str | None = None
        self.generation = None
        self.dark = False
        self.setWindowTitle("Dataelan")
        self.resize(1180, 780)

        self.sidebar = Sidebar()
        self.chat_view = ChatView()
        self.composer = Composer()
        self.welcome = WelcomePanel()
        self.title = QLabel("")
        self.title.setObjectName("welcomeTitle")
        self.title.setContentsMargins(16, 8, 16, 0)

        chat_page = QWidget()
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addWidget(self.title)
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
        self.undo_button = QPushButton("Undo")
        self.undo_button.setVisible(False)
        self.statusBar().addPermanentWidget(self.undo_button)
        self._undo = None
        self.undo_button.clicked.connect(self._run_undo)

        self.paint_timer = QTimer(self)
        self.paint_timer.setInterval(PAINT_INTERVAL_MS)
        self.paint_timer.timeout.connect(self._paint_stream)
        self._painted_length = -1

        self._sidebar_limit = self.SIDEBAR_PAGE
        self._listed_models: list[str] = []
        self._recent_models: list[str] = []
        self._unsubscribe = lambda: None
        self._build_menus()
        self._connect()
        self.composer.editor.enter_sends = self.settings.value("composer/enter_sends", True, type=bool)
        self.apply_theme(str(self.settings.value("appearance/theme", "system")))
        self._restore_geometry()
        if services is not None:
            self.attach_services(services)
        else:
            self._set_ready(False)
            self.statusBar().showMessage("Opening your conversations…")

    def attach_services(self, services: Services) -> None:
        """Connect the window to the database and providers, and load what it shows."""
        self.services = services
        self._listed = asyncio.Event()
        idle_minutes = self.settings.value("models/idle_unload_minutes")
        if idle_minutes is not None:
            services.registry.local().idle_unload_seconds = int(idle_minutes) * 60
        self._unsubscribe = services.bus.subscribe(self._on_changes)
        self._set_ready(True)
        self.statusBar().clearMessage()
        from .markdown import preload

        # the first message would otherwise import markdown-it and Pygments on this thread
        ops.query(self, "preload", preload, on_error=lambda f: log.warning("preload failed: %s", f))
        self.refresh_sidebar()
        self.refresh_models()
        last = self.settings.value("session/last_conversation")
        if last:
            self.open_conversation(str(last), quiet=True)
        self._update_welcome()

    def _set_ready(self, ready: bool) -> None:
        """Until the services are attached only the window itself, Quit and About work."""
        self.centralWidget().setEnabled(ready)
        for menu_action in self.menuBar().actions():
            for item in menu_action.menu().actions():
                if item.objectName() not in ("quit", "about"):
                    item.setEnabled(ready)

    # -- construction ----------------------------------------------------------------

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
            file_menu,
            "New conversation",
            "Ctrl+N",
            lambda: self.new_conversation(self.sidebar.current_project_id()),
        )
        action(file_menu, "New project…", "Ctrl+Shift+N", self.new_project)
        action(file_menu, "Open GGUF model…", "Ctrl+O", self.open_gguf)
        file_menu.addSeparator()
        action(file_menu, "Import conversations…", "Ctrl+I", self.import_dialog)
        action(file_menu, "Export conversation…", "Ctrl+E", self.export_conversation_dialog)
        action(file_menu, "Export project…", None, self.export_project_dialog)
        file_menu.addSeparator()
        action(file_menu, "Quit", "Ctrl+Q", self.close, name="quit")
        edit_menu = self.menuBar().addMenu("&Edit")
        self.copy_last_action = action(edit_menu, "Copy last reply", "Ctrl+Shift+C", self.copy_last_reply)
        self.search_action = action(edit_menu, "Search messages", "Ctrl+K", self.sidebar.focus_search)
        self.stop_action = action(edit_menu, "Stop reply", "Esc", self.stop_generation)
        edit_menu.addSeparator()
        self.settings_action = action(edit_menu, "Settings…", "Ctrl+,", self.open_settings)
        self.tools_menu = self.menuBar().addMenu("&Tools")
        action(self.tools_menu, "Models…", "Ctrl+M", self.open_models)
        action(self.tools_menu, "Model tester…", "Ctrl+T", self.open_tester)
        action(self.tools_menu, "Prompt templates…", "Ctrl+Shift+T", self.open_templates, "templatesAction")
        action(self.tools_menu, "Insert template…", "Ctrl+/", self.insert_template, "insertTemplateAction")
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "About Dataelan", None, self.about, name="about")

    def _connect(self) -> None:
        sb = self.sidebar
        sb.conversation_selected.connect(self.open_conversation)
        sb.new_conversation_requested.connect(self.new_conversation)
        sb.new_project_requested.connect(self.new_project)
        sb.rename_requested.connect(self.rename_conversation)
        sb.pin_requested.connect(lambda cid, pin: self._update(cid, pinned=pin))
        sb.archive_requested.connect(lambda cid: self._update(cid, archived=True))
        sb.delete_requested.connect(self.delete_conversation)
        sb.project_settings_requested.connect(self.edit_project)
        sb.project_delete_requested.connect(self.delete_project)
        sb.search_changed.connect(self.search)
        sb.more_requested.connect(self.show_more_conversations)
        sb.hit_activated.connect(self.open_hit)
        self.composer.send_requested.connect(self.send)
        self.composer.stop_requested.connect(self.stop_generation)
        self.composer.editor.escape.connect(self.stop_generation)
        cv = self.chat_view
        cv.copy_requested.connect(self.copy_message)
        cv.regenerate_requested.connect(self.regenerate)
        cv.edit_requested.connect(self.edit_message)
        cv.branch_requested.connect(self.switch_branch)
        self.welcome.add_key_requested.connect(self.open_settings)
        self.welcome.open_gguf_requested.connect(self.open_gguf)
        self.welcome.connect_server_requested.connect(self.connect_server)

    def apply_theme(self, theme: str) -> None:
        app = QApplication.instance()
        self.dark = apply_theme(app, theme) if app else False
        self.chat_view.set_dark(self.dark)
        if self.conversation_id:
            self.reload_conversation()

    # -- geometry ------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        if self.conversation_id:
            self.settings.setValue("session/last_conversation", self.conversation_id)
        self.settings.sync()
        if self.services is not None:
            self.services.chat.stop_all()  # replies in flight are kept, marked stopped
        self._unsubscribe()
        super().closeEvent(event)

    # -- loading -------------------------------------------------------------------------

    def refresh_sidebar(self) -> None:
        """Projects and the newest conversations (pinned first); older ones page in on request."""
        limit, store = self._sidebar_limit, self.services.store

        def load():
            projects = [ProjectRow(p.id, p.name) for p in store.projects()]
            summaries, total = store.conversation_list(limit)
            conversations = [ConversationRow(c.id, c.title, c.pinned, c.project_id) for c in summaries]
            return projects, conversations, total

        def done(result) -> None:
            projects, conversations, total = result
            self.sidebar.set_content(
                projects, conversations, self.conversation_id, more=total - len(conversations)
            )
            self._listed.set()
            self._update_welcome()

        ops.query(self, "sidebar", load, on_done=done)

    async def wait_until_listed(self) -> None:
        """Until the sidebar has listed the conversations once (the start-up benchmark waits for it)."""
        await self._listed.wait()

    def show_more_conversations(self) -> None:
        self._sidebar_limit += self.SIDEBAR_PAGE
        self.refresh_sidebar()

    def refresh_models(self) -> None:
        """The picker lists every provider's models and the ones recent conversations used."""
        registry, store = self.services.registry, self.services.store

        async def listed():
            return await registry.list_all_models()

        def show_listed(result) -> None:
            models, errors = result
            self._listed_models = [m.ref for m in models]
            self._show_models()
            if errors:
                self.composer.model_picker.setToolTip(
                    "Some providers did not answer:\n" + "\n".join(f"{k}: {v}" for k, v in errors.items())
                )

        def show_recent(refs: list[str]) -> None:
            self._recent_models = refs
            self._show_models()

        quiet = lambda failure: log.warning("listing models failed: %s", failure)  # noqa: E731
        ops.query(self, "models", listed, on_done=show_listed, on_error=quiet)
        ops.query(self, "recent models", store.recent_models, on_done=show_recent, on_error=quiet)

    def _show_models(self) -> None:
        self.composer.set_models(sorted({*self._listed_models, *self._recent_models}))

    def _update_welcome(self) -> None:
        services = self.services

        def anything_configured() -> bool:  # the keyring may wait for an unlock prompt
            return bool(services.registry.configs()) or any(
                services.secrets.get(n) for n in ("openai", "anthropic")
            )

        ops.query(self, "welcome", anything_configured, on_done=self._show_welcome_if)

    def _show_welcome_if(self, has_provider: bool) -> None:
        nothing_yet = self.conversation_id is None and not self.sidebar.conversation_items()
        show = nothing_yet and not has_provider
        self.center.setCurrentWidget(self.welcome if show else self.center.widget(0))
        if show and self.probe_servers and not getattr(self, "_probed", False):
            self._probed = True
            self.probe_local_servers()

    def probe_local_servers(self, servers=None) -> ops.Op:
        from ..core.connections.discovery import KNOWN_SERVERS, probe_local_servers

        async def probe():
            return await probe_local_servers(servers or KNOWN_SERVERS)

        return ops.query(self, "probe", probe, on_done=self.welcome.show_found)

    def open_conversation(
        self, conversation_id: str, quiet: bool = False, focus_message: str | None = None
    ) -> None:
        def failed(failure: ops.Failure) -> None:
            if not quiet:
                QMessageBox.warning(self, "Dataelan", failure.text)

        def done(result) -> None:
            conversation, views = result
            self.conversation_id = conversation.id
            self.settings.setValue("session/last_conversation", conversation.id)
            self.title.setText(conversation.title)
            self.composer.set_model(conversation.model)
            self.chat_view.set_messages(views)
            self.center.setCurrentIndex(0)
            self._attach_stream()
            if focus_message:
                widget = self.chat_view.ensure_shown(focus_message)
                if widget is not None:
                    widget.setFocus()

        store = self.services.store

        def load():
            shown = store.shown_conversation(conversation_id)
            return shown.conversation, _message_views(shown)

        ops.query(self, "conversation", load, on_done=done, on_error=failed)

    def reload_conversation(self) -> None:
        if self.conversation_id:
            self.open_conversation(self.conversation_id, quiet=True)

    def _on_changes(self, changes: Changes) -> None:
        if changes.conversation_list or changes.projects:
            self.refresh_sidebar()
        if self.conversation_id and (
            self.conversation_id in changes.messages or self.conversation_id in changes.conversations
        ):
            self.reload_conversation()
        if changes.providers or changes.local_models:
            self.refresh_models()
            self._update_welcome()

    # -- conversations -----------------------------------------------------------------

    def new_conversation(self, project_id: str = "") -> None:
        def done(conversation) -> None:
            self.open_conversation(conversation.id)
            self.composer.editor.setFocus()

        model, chat = self.composer.model() or None, self.services.chat

        async def start():
            return await chat.start_conversation(project_id=project_id or None, model=model)

        ops.change(self, start, on_done=done)

    def new_project(self) -> None:
        name, ok = QInputDialog.getText(self, "New project", "Project name:")
        if ok and name.strip():
            ops.change(self, partial(self.services.store.create_project, name.strip()))

    def edit_project(self, project_id: str) -> None:
        ops.query(
            self, "dialog", partial(self.services.store.project, project_id), on_done=self._edit_project
        )

    def _edit_project(self, project) -> None:
        text, ok = QInputDialog.getMultiLineText(
            self, f"{project.name} — instructions", "Instructions every conversation in this project starts with:",
            project.instructions or "",
        )  # fmt: skip
        if not ok:
            return
        model, ok = QInputDialog.getText(
            self,
            f"{project.name} — default model",
            "Default model:",
            text=project.default_model or self.composer.model(),
        )
        fields = {"instructions": text.strip() or None}
        if ok:
            fields["default_model"] = model.strip() or None
        ops.change(self, partial(self.services.store.update_project, project.id, **fields))

    def delete_project(self, project_id: str) -> None:
        ops.query(
            self, "dialog", partial(self.services.store.project, project_id), on_done=self._delete_project
        )

    def _delete_project(self, project) -> None:
        answer = QMessageBox.question(
            self, "Delete project", f"Delete the project “{project.name}” and its conversations?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            ops.change(self, partial(self.services.store.delete_project, project.id))

    def rename_conversation(self, conversation_id: str) -> None:
        def ask(current) -> None:
            title, ok = QInputDialog.getText(self, "Rename", "Title:", text=current.title)
            if ok and title.strip():
                self._update(conversation_id, title=title.strip())

        ops.query(self, "dialog", partial(self.services.store.conversation, conversation_id), on_done=ask)

    def _update(self, conversation_id: str, **fields) -> None:
        ops.change(self, partial(self.services.store.update_conversation, conversation_id, **fields))

    def delete_conversation(self, conversation_id: str) -> None:
        def done(_):
            if self.conversation_id == conversation_id:
                self.conversation_id = None
                self.chat_view.set_messages([])
                self.title.setText("")
            self._offer_undo(
                "Conversation deleted.", lambda: self.services.store.restore_conversation(conversation_id)
            )

        ops.change(self, partial(self.services.store.delete_conversation, conversation_id), on_done=done)

    def _offer_undo(self, message: str, undo) -> None:
        self._undo = undo
        self.statusBar().showMessage(message, 10_000)
        self.undo_button.setVisible(True)
        QTimer.singleShot(10_000, self.undo_button, lambda: self.undo_button.setVisible(False))

    def _run_undo(self) -> None:
        if self._undo is not None:
            undo, self._undo = self._undo, None
            ops.change(self, undo)
        self.undo_button.setVisible(False)
        self.statusBar().clearMessage()

    # -- sending and streaming ------------------------------------------------------------

    def _params(self) -> GenerationParams:
        return GenerationParams(
            temperature=self.composer.temperature_value(), max_tokens=self.composer.max_tokens_value()
        )

    def send(self, text: str, attachments: list) -> None:
        if self.generation is not None and not self.generation.done:
            self.statusBar().showMessage("A reply is still being written — stop it first (Esc).", 5000)
            return
        model = self.composer.model()
        if not model:
            QMessageBox.information(
                self,
                "Choose a model",
                "Choose a model first, for example openai:gpt-4o-mini or a local GGUF file.",
            )
            return

        chat, params = self.services.chat, self._params()

        async def go():
            if self.conversation_id is None:
                project = self.sidebar.current_project_id() or None
                conversation = await chat.start_conversation(project_id=project, model=model)
                self.conversation_id = conversation.id
            return await chat.send(
                self.conversation_id, text, model=model, params=params, attachments=attachments
            )

        self.composer.clear_after_send()
        ops.change(self, go, on_done=self._started)

    def regenerate(self, message_id: str) -> None:
        chat, model, params = self.services.chat, self.composer.model() or None, self._params()

        async def go():
            return await chat.regenerate(message_id, model=model, params=params)

        ops.change(self, go, on_done=self._started)

    def edit_message(self, message_id: str) -> None:
        def ask(old) -> None:
            text, ok = QInputDialog.getMultiLineText(
                self, "Edit message", "Your message (sent as a new branch):", old.content
            )
            if ok and text.strip() and text != old.content:
                chat, model, params = self.services.chat, self.composer.model() or None, self._params()

                async def go():
                    return await chat.edit(message_id, text, model=model, params=params)

                ops.change(self, go, on_done=self._started)

        ops.query(self, "dialog", partial(self.services.store.message, message_id), on_done=ask)

    def switch_branch(self, message_id: str, step: int) -> None:
        ops.change(self, partial(self.services.store.switch_branch, message_id, step))

    def _started(self, generation) -> None:
        self.generation = generation
        self.open_conversation(generation.conversation_id)
        self.refresh_sidebar()

    def _attach_stream(self) -> None:
        g = self.generation
        streaming = g is not None and not g.done and g.conversation_id == self.conversation_id
        self.composer.set_streaming(g is not None and not g.done)
        if streaming:
            self._painted_length = -1
            self.paint_timer.start()
        else:
            self.paint_timer.stop()

    def _paint_stream(self) -> None:
        g = self.generation
        if g is None:
            self.paint_timer.stop()
            return
        if len(g.text) != self._painted_length:
            self._painted_length = len(g.text)
            self.chat_view.update_streaming(g.message_id, g.text)
        if g.done:
            self.paint_timer.stop()
            self.composer.set_streaming(False)

    def stop_generation(self) -> None:
        if self.generation is not None and not self.generation.done:
            self.generation.stop()
            self.statusBar().showMessage("Stopped. The text so far is kept.", 4000)

    # -- message actions -----------------------------------------------------------------

    def copy_message(self, message_id: str) -> None:
        def copy(message) -> None:
            QGuiApplication.clipboard().setText(message.content)
            self.statusBar().showMessage("Copied.", 2000)

        ops.query(self, "copy", partial(self.services.store.message, message_id), on_done=copy)

    def copy_last_reply(self) -> None:
        replies = [v for v in self.chat_view.views() if v.role == "assistant"]
        if replies:
            g = self.generation
            text = g.text if g is not None and g.message_id == replies[-1].id else replies[-1].content
            QGuiApplication.clipboard().setText(text)
            self.statusBar().showMessage("Copied the last reply.", 2000)

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str) -> None:
        from ..core.search import search_messages

        if not query.strip():
            return
        ops.query(
            self,
            "search",
            partial(search_messages, self.services.db, query, 50),
            on_done=self.sidebar.show_hits,
        )

    def open_hit(self, hit) -> None:
        # a hit on another branch than the one shown: show that branch
        ops.change(
            self,
            partial(self.services.store.show_message, hit.message_id),
            on_done=lambda conversation_id: self.open_conversation(
                conversation_id, focus_message=hit.message_id
            ),
        )

    # -- import and export ------------------------------------------------------------------

    def import_file(self, path: Path) -> ops.Op:
        from ..core.transfer import import_file

        def done(result) -> None:
            note = f" ({result.skipped_duplicates} already imported)" if result.skipped_duplicates else ""
            self.statusBar().showMessage(
                f"Imported {len(result.conversation_ids)} conversation(s), {result.message_count} message(s){note}.",
                8000,
            )
            if result.conversation_ids:
                self.open_conversation(result.conversation_ids[0])

        def failed(failure: ops.Failure) -> None:
            QMessageBox.warning(self, "Nothing was imported", failure.text)

        return ops.change(
            self, partial(import_file, self.services.store, path), on_done=done, on_error=failed
        )

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import conversations", str(Path.home()),
            "Dataelan or ChatGPT export (*.json *.zip);;All files (*)",
        )  # fmt: skip
        if path:
            self.import_file(Path(path))

    def export_to(
        self, path: Path, conversation_id: str | None = None, project_id: str | None = None
    ) -> ops.Op:
        from ..core.transfer import export_conversation, export_project

        fmt = "json" if path.suffix.lower() == ".json" else "md"

        store = self.services.store

        def write() -> None:
            if project_id:
                text = export_project(store, project_id, fmt)
            else:
                text = export_conversation(store, conversation_id, fmt)
            path.write_text(text, encoding="utf-8")

        return ops.change(
            self, write, on_done=lambda _: self.statusBar().showMessage(f"Exported to {path}.", 6000)
        )

    def export_conversation_dialog(self) -> None:
        if not self.conversation_id:
            self.statusBar().showMessage("Open a conversation to export it.", 4000)
            return
        title = self.title.text() or "conversation"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export conversation",
            str(Path.home() / f"{title}.md"),
            "Markdown (*.md);;JSON with all branches (*.json)",
        )
        if path:
            self.export_to(Path(path), conversation_id=self.conversation_id)

    def export_project_dialog(self) -> None:
        project_id = self.sidebar.current_project_id()
        if not project_id:
            self.statusBar().showMessage("Select a project in the sidebar to export it.", 4000)
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export project",
            str(Path.home() / "project.json"),
            "JSON with all branches (*.json);;Markdown (*.md)",
        )
        if path:
            self.export_to(Path(path), project_id=project_id)

    # -- other windows ----------------------------------------------------------------------

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.services, self.settings, self)
        dialog.theme_changed.connect(self.apply_theme)
        dialog.enter_sends_changed.connect(lambda v: setattr(self.composer.editor, "enter_sends", v))
        dialog.providers.changed.connect(self.refresh_models)
        self.settings_dialog = dialog
        dialog.show()

    def open_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.use_local_model(Path(path))

    def use_local_model(self, path: Path) -> None:
        from ..core.gguf.info import validate_gguf

        def ok(info) -> None:
            ref = f"local:{path}"
            self.composer.set_model(ref)
            self.statusBar().showMessage(
                f"{path.name}: {info.architecture}, {info.parameters_label} parameters, {info.quantization}.",
                8000,
            )
            self.center.setCurrentIndex(0)
            self.new_conversation(self.sidebar.current_project_id())

        def bad(failure: ops.Failure) -> None:
            QMessageBox.warning(self, "Not a usable model", failure.text)

        ops.query(self, "gguf", partial(validate_gguf, path), on_done=ok, on_error=bad)

    def connect_server(self, server) -> None:
        if server is None:
            self.open_settings()
            self.settings_dialog.providers._new()
            return

        def saved(_created: bool) -> None:
            if server.models:
                self.composer.set_model(f"{server.name}:{server.models[0]}")
            self.center.setCurrentIndex(0)
            self.statusBar().showMessage(f"Connected to {server.label}.", 5000)

        connections = self.services.connections
        ops.change(self, partial(connections.save, server.name, base_url=server.base_url), on_done=saved)

    def open_models(self) -> None:
        try:
            from .model_manager import ModelManagerWindow
        except ImportError:
            QMessageBox.information(self, "Models", "Open a GGUF file with File → Open GGUF model…")
            return
        self.model_manager = ModelManagerWindow(self.services)
        self.model_manager.idle.valueChanged.connect(
            lambda m: self.settings.setValue("models/idle_unload_minutes", m)
        )
        self.model_manager.show()

    def open_tester(self) -> None:
        try:
            from .tester import TesterWindow
        except ImportError:
            QMessageBox.information(self, "Model tester", "The model tester is not available in this build.")
            return
        self.tester = TesterWindow(self.services)
        self.tester.show()

    def about(self) -> None:
        from .. import __version__

        QMessageBox.about(
            self, "About Dataelan", f"Dataelan Desktop {__version__}\nChat with cloud and local models."
        )

    # -- prompt templates --------------------------------------------------------------------

    def open_templates(self) -> None:
        from .templates_dialog import TemplatesWindow

        if getattr(self, "templates_window", None) is None:
            self.templates_window = TemplatesWindow(self.services)
        self.templates_window.show()
        self.templates_window.raise_()
        self.templates_window.activateWindow()

    def insert_template(self) -> None:
        """Pick a template, fill in its variables, and put the prompt in the composer."""
        from .template_fill import TemplateFillDialog

        def choose(templates) -> None:
            if not templates:
                self.statusBar().showMessage("No templates yet: add one in Tools → Prompt templates….", 6000)
                return
            dialog = TemplateFillDialog(templates, parent=self)
            dialog.accepted.connect(lambda: self._use_template(dialog.template().name, dialog.rendered()))
            self.template_fill = dialog
            dialog.open()

        ops.query(self, "templates", self.services.templates.list, on_done=choose)

    def _use_template(self, name: str, rendered) -> None:
        """The prompt goes in the composer; the system prompt sets up only a conversation not yet begun
        (put under earlier replies, it would change what they were answers to)."""
        self.composer.insert_text(rendered.prompt)
        if not rendered.system:
            self.statusBar().showMessage(f"Inserted the template “{name}”.", 6000)
            return
        store, conversation_id = self.services.store, self.conversation_id
        project_id, model = self.sidebar.current_project_id() or None, self.composer.model() or None

        def apply() -> str | None:
            if conversation_id is None:
                return store.create_conversation(project_id, rendered.system, model).id
            return (
                conversation_id if store.set_system_prompt_if_new(conversation_id, rendered.system) else None
            )

        def done(applied_to: str | None) -> None:
            if applied_to is None:
                self.statusBar().showMessage(
                    f"Inserted “{name}”. Its system prompt was not used: this conversation has already begun.",
                    8000,
                )
                return
            if self.conversation_id is None:
                self.conversation_id = applied_to  # a message sent right now goes to this conversation
                self.open_conversation(applied_to)
            self.statusBar().showMessage(
                f"Inserted “{name}”; its system prompt sets up this conversation.", 8000
            )

        ops.change(self, apply, on_done=done)
