"""The library as the sidebar lists it, and what a person does to it: new conversations and projects,
rename, pin, archive, delete (with undo), project settings, and search across every message."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget

from ...core.changes import Changes
from .. import ops
from .sidebar import ConversationRow, ProjectRow, Sidebar

if TYPE_CHECKING:
    from ...core.chat.store import ConversationView, ProjectView
    from ..chat.pane import ConversationPane
    from ..main.shell import Shell


class LibraryActions(QObject):
    #: how many conversations the sidebar lists at first; "Show more" adds as many again
    PAGE = 300
    listed = Signal()  # the sidebar was filled

    def __init__(self, shell: Shell, sidebar: Sidebar, pane: ConversationPane):
        super().__init__(shell.window)
        self.shell = shell
        self.services = shell.services
        self.sidebar = sidebar
        self.pane = pane
        self.limit = self.PAGE
        self.listed_once = asyncio.Event()
        self.project_dialog = None  # the Project settings dialog last opened

        sidebar.conversation_selected.connect(pane.open)
        sidebar.new_conversation_requested.connect(self.new_conversation)
        sidebar.new_project_requested.connect(self.new_project)
        sidebar.rename_requested.connect(self.rename)
        sidebar.pin_requested.connect(lambda cid, pin: self.update_conversation(cid, pinned=pin))
        sidebar.archive_requested.connect(self.archive)
        sidebar.unarchive_requested.connect(self.unarchive)
        sidebar.archived_view_toggled.connect(lambda _shown: self.refresh())
        pane.opened.connect(sidebar.select_conversation)
        sidebar.delete_requested.connect(self.delete)
        sidebar.project_settings_requested.connect(self.edit_project)
        sidebar.project_delete_requested.connect(self.delete_project)
        sidebar.search_changed.connect(self.search)
        sidebar.more_requested.connect(self.show_more)
        sidebar.hit_activated.connect(self.open_hit)

    def _widget(self) -> QWidget:
        return self.shell.window

    # -- the list ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Projects and the newest conversations (pinned first); older ones page in on request. In the
        Archived view, the archived conversations instead."""
        limit, store = self.limit, self.services.store
        if self.sidebar.showing_archived():
            ops.query(self, "sidebar", store.archived_list, on_done=self._show_archived)
            return

        def load() -> tuple[list[ProjectRow], list[ConversationRow], int]:
            found, summaries, total = store.library(limit)
            projects = [ProjectRow(p.id, p.name) for p in found]
            conversations = [ConversationRow(c.id, c.title, c.pinned, c.project_id) for c in summaries]
            return projects, conversations, total

        def done(result: tuple[list[ProjectRow], list[ConversationRow], int]) -> None:
            projects, conversations, total = result
            self.sidebar.set_content(
                projects, conversations, self.pane.conversation_id, more=total - len(conversations)
            )
            self.listed_once.set()
            self.listed.emit()

        ops.query(self, "sidebar", load, on_done=done)

    def _show_archived(self, summaries: list) -> None:
        rows = [ConversationRow(c.id, c.title, c.pinned, c.project_id) for c in summaries]
        self.sidebar.set_archived(rows, self.pane.conversation_id)

    def show_more(self) -> None:
        self.limit += self.PAGE
        self.refresh()

    def on_changes(self, changes: Changes) -> None:
        if changes.conversation_list or changes.projects:
            self.refresh()

    # -- conversations -----------------------------------------------------------------------

    def new_conversation(self, project_id: str = "", model: str | None = None) -> None:
        """A conversation to write in (the project's empty one if it has one), selected in the sidebar,
        its model ``model`` if given (a model file just opened), else the project's default model, else
        the one in the picker."""

        def done(conversation: ConversationView) -> None:
            self.pane.open(conversation.id)
            self.pane.composer.editor.setFocus()

        store, picked = self.services.store, self.pane.composer.model() or None
        start = partial(store.fresh_conversation, project_id or None, picked, chosen_model=model)
        ops.change(self, start, on_done=done)

    def rename(self, conversation_id: str) -> None:
        def ask(current: ConversationView) -> None:
            title, ok = QInputDialog.getText(self._widget(), "Rename", "Title:", text=current.title)
            if ok and title.strip():
                self.update_conversation(conversation_id, title=title.strip())

        ops.query(self, "dialog", partial(self.services.store.conversation, conversation_id), on_done=ask)

    def update_conversation(self, conversation_id: str, **fields) -> None:
        ops.change(self, partial(self.services.store.update_conversation, conversation_id, **fields))

    def archive(self, conversation_id: str) -> None:
        """Out of the list, into the Archived view; Undo in the status bar brings it back."""
        store = self.services.store

        def done(_view: ConversationView) -> None:
            self.shell.offer_undo(
                "Conversation archived (see Archived in the sidebar).",
                partial(store.update_conversation, conversation_id, archived=False),
            )

        ops.change(self, partial(store.update_conversation, conversation_id, archived=True), on_done=done)

    def unarchive(self, conversation_id: str) -> None:
        def done(_view: ConversationView) -> None:
            self.shell.say("Conversation back in the list.", 4000)

        ops.change(
            self,
            partial(self.services.store.update_conversation, conversation_id, archived=False),
            on_done=done,
        )

    def delete(self, conversation_id: str) -> None:
        store = self.services.store

        def done(_none: None) -> None:
            self.pane.forget(conversation_id)
            self.shell.offer_undo(
                "Conversation deleted.", partial(store.restore_conversation, conversation_id)
            )

        ops.change(self, partial(store.delete_conversation, conversation_id), on_done=done)

    # -- projects ----------------------------------------------------------------------------

    def new_project(self) -> None:
        name, ok = QInputDialog.getText(self._widget(), "New project", "Project name:")
        if ok and name.strip():
            ops.change(self, partial(self.services.store.create_project, name.strip()))

    def edit_project(self, project_id: str) -> None:
        from ...core.agents.service import agent_store  # (lazy: the agents feature loads when used)

        store, agents = self.services.store, agent_store(self.services)

        def read():
            chosen = agents.agent_for_project(project_id)
            listed = [(a.id, a.name) for a in agents.agents()]
            return store.project(project_id), listed, chosen.id if chosen is not None else None

        ops.query(self, "dialog", read, on_done=self._edit_project)

    def _edit_project(self, found: tuple[ProjectView, list[tuple[str, str]], str | None]) -> None:
        from .project_dialog import ProjectDialog

        project, agents, agent_id = found
        picker = self.pane.composer.model_picker
        models = [picker.itemText(i) for i in range(picker.count()) if picker.itemText(i)]
        dialog = ProjectDialog(project, models, agents, agent_id, self._widget())
        self.project_dialog = dialog  # (tests drive it)
        dialog.accepted.connect(
            lambda: ops.change(
                self, partial(self.services.store.update_project, project.id, **dialog.fields())
            )
        )
        dialog.open()

    def delete_project(self, project_id: str) -> None:
        ops.query(
            self, "dialog", partial(self.services.store.project, project_id), on_done=self._delete_project
        )

    def _delete_project(self, project: ProjectView) -> None:
        answer = QMessageBox.question(
            self._widget(), "Delete project", f"Delete the project “{project.name}” and its conversations?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            ops.change(self, partial(self.services.store.delete_project, project.id))

    # -- search ------------------------------------------------------------------------------

    def search(self, query: str) -> None:
        from ...core.search import search_messages

        if not query.strip():
            return
        db = self.services.db
        ops.query(self, "search", partial(search_messages, db, query, 50), on_done=self.sidebar.show_hits)

    def open_hit(self, hit) -> None:
        # a hit on another branch than the one shown: that branch is shown
        ops.change(
            self,
            partial(self.services.store.show_message, hit.message_id),
            on_done=lambda conversation_id: self.pane.open(conversation_id, focus_message=hit.message_id),
        )
