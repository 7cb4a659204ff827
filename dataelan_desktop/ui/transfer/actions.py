"""Import and export from the File menu: conversations in, a conversation or a project out."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ...core.paths import write_text_atomically
from .. import ops

if TYPE_CHECKING:
    from ...core.transfer import ImportResult
    from ..chat.pane import ConversationPane
    from ..main.shell import Shell


class TransferActions(QObject):
    def __init__(self, shell: Shell, pane: ConversationPane):
        super().__init__(shell.window)
        self.shell = shell
        self.services = shell.services
        self.pane = pane

    def _widget(self) -> QWidget:
        return self.shell.window

    def import_file(self, path: Path) -> ops.Op:
        from ...core.transfer import import_file

        def done(result: ImportResult) -> None:
            self.shell.say(result.summary(), 12000)  # what was kept, and what could not be
            if result.conversation_ids:
                self.pane.open(result.conversation_ids[0])

        def failed(failure: ops.Failure) -> None:
            QMessageBox.warning(self._widget(), "Nothing was imported", failure.text)

        return ops.change(
            self, partial(import_file, self.services.store, path), on_done=done, on_error=failed
        )

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._widget(), "Import conversations", str(Path.home()),
            "Dataelan or ChatGPT export (*.json *.zip);;All files (*)",
        )  # fmt: skip
        if path:
            self.import_file(Path(path))

    def export_to(
        self, path: Path, conversation_id: str | None = None, project_id: str | None = None
    ) -> ops.Op:
        from ...core.transfer import export_conversation, export_project

        fmt = "json" if path.suffix.lower() == ".json" else "md"
        store = self.services.store

        def write() -> None:
            if project_id:
                text = export_project(store, project_id, fmt)
            else:
                text = export_conversation(store, conversation_id, fmt)
            write_text_atomically(path, text)

        return ops.change(self, write, on_done=lambda _none: self.shell.say(f"Exported to {path}.", 6000))

    def export_conversation_dialog(self) -> None:
        conversation_id = self.pane.conversation_id
        if not conversation_id:
            self.shell.say("Open a conversation to export it.", 4000)
            return
        title = self.pane.title.text() or "conversation"
        path, _ = QFileDialog.getSaveFileName(
            self._widget(),
            "Export conversation",
            str(Path.home() / f"{title}.md"),
            "Markdown (*.md);;JSON with all branches (*.json)",
        )
        if path:
            self.export_to(Path(path), conversation_id=conversation_id)

    def export_project_dialog(self) -> None:
        project_id = self.shell.current_project()
        if not project_id:
            self.shell.say("Select a project in the sidebar to export it.", 4000)
            return
        path, _ = QFileDialog.getSaveFileName(
            self._widget(),
            "Export project",
            str(Path.home() / "project.json"),
            "JSON with all branches (*.json);;Markdown (*.md)",
        )
        if path:
            self.export_to(Path(path), project_id=project_id)
