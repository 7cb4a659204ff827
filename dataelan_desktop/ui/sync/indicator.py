"""The status bar's sync indicator: off, synced at a time, changes waiting, or the last error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from .. import ops
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
    """Shows nothing until this device is signed in; only then are the sync engine and its background
    runner built (they bring HTTP, WebSocket and sealing libraries: about 20 MB a person who never
    syncs should not pay)."""

    def __init__(self, shell: Shell):
        super().__init__()
        self.shell = shell
        self.sync: SyncController | None = None
        self._unsubscribe = shell.services.bus.subscribe(self._on_changes)
        shell.window.statusBar().addPermanentWidget(self)
        shell.window.installEventFilter(self)  # the window's close stops the background sync
        self._check_signed_in()

    @classmethod
    def attach(cls, shell: Shell) -> SyncIndicator:
        return cls(shell)

    def _check_signed_in(self) -> None:
        from ...core.sync.store import SyncStore  # the sync tables only: no engine, no network stack

        store = SyncStore(self.shell.services.db)
        ops.query(self, "sync-signed-in", lambda: store.account() is not None, on_done=self._signed_in_known)

    def _signed_in_known(self, signed_in: bool) -> None:
        if signed_in and self.sync is None:
            self.sync = controller_for(self.shell.services)
            self.sync.progress.connect(self._on_progress)
            self.sync.start()
        self.refresh()

    def refresh(self) -> None:
        if self.sync is None:
            self._show(None)
        else:
            self.sync.status(self, self._show)

    def _show(self, status) -> None:
        text, tip = indicator_text(status) if status is not None else ("", "")
        self.setText(text)
        self.setToolTip(tip)

    def _on_changes(self, changes) -> None:
        if changes.sync:
            if self.sync is None:
                self._check_signed_in()  # signed in from Settings → Sync: start syncing now
            else:
                self.refresh()

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.setText(f"Sync: {what} {done:,}" + (f" of {total:,}" if total else ""))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close and watched is self.shell.window:
            self._unsubscribe()
            if self.sync is not None:
                self.sync.stop()
        return False
