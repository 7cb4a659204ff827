"""The status bar's sync indicator: off, synced at a time, changes waiting, or the last error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from .controller import SyncController, controller_for

if TYPE_CHECKING:
    from ..main.shell import Shell


def indicator_text(status) -> tuple[str, str]:
    """(what the status bar shows, its tooltip)."""
    if not status.signed_in:
        return "", ""
    if status.last_error:
        return "Sync: needs attention", status.last_error
    if status.pending:
        return f"Sync: {status.pending:,} waiting", f"Signed in to {status.server_url} as {status.user}"
    when = status.last_sync_at.astimezone().strftime("%H:%M") if status.last_sync_at else "not yet"
    return f"Synced {when}", f"Signed in to {status.server_url} as {status.user}"


class SyncIndicator(QLabel):
    def __init__(self, shell: Shell):
        super().__init__()
        self.shell = shell
        self.sync: SyncController = controller_for(shell.services)
        self.sync.progress.connect(self._on_progress)
        self._unsubscribe = shell.services.bus.subscribe(self._on_changes)
        shell.window.statusBar().addPermanentWidget(self)
        shell.window.installEventFilter(self)  # the window's close stops the background sync
        self.sync.start()
        self.refresh()

    @classmethod
    def attach(cls, shell: Shell) -> SyncIndicator:
        return cls(shell)

    def refresh(self) -> None:
        self.sync.status(self, self._show)

    def _show(self, status) -> None:
        text, tip = indicator_text(status)
        self.setText(text)
        self.setToolTip(tip)

    def _on_changes(self, changes) -> None:
        if changes.sync:
            self.refresh()

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.setText(f"Sync: {what} {done:,}" + (f" of {total:,}" if total else ""))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close and watched is self.shell.window:
            self._unsubscribe()
            self.sync.stop()
        return False
