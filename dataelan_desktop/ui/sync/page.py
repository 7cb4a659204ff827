"""Settings → Sync: sign in to your server, see how sync is doing, sync now, sign out, set a passphrase."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .controller import controller_for

if TYPE_CHECKING:
    from ...core.services import Services
    from ..ops import Failure


def describe_last_sync(status) -> str:
    if status.last_sync_at is None:
        return "never"
    return status.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class SyncPage(QWidget):
    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.sync = controller_for(services)
        layout = QVBoxLayout(self)

        self.account_box = QGroupBox("Sign in to your Dataelan server")
        form = QFormLayout(self.account_box)
        self.url = QLineEdit(placeholderText="https://sync.example.org")
        self.user = QLineEdit()
        self.password = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.device = QLineEdit(socket.gethostname())
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.clicked.connect(self._sign_in)
        form.addRow("Server", self.url)
        form.addRow("User name", self.user)
        form.addRow("Password", self.password)
        form.addRow("This device's name", self.device)
        form.addRow("", self.sign_in_button)
        layout.addWidget(self.account_box)

        self.status_box = QGroupBox("Sync")
        status = QFormLayout(self.status_box)
        self.state = QLabel("…")  # until the status is read
        self.last_sync = QLabel("never")
        self.waiting = QLabel("0")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.progress = QProgressBar()
        self.progress.hide()
        buttons = QHBoxLayout()
        self.sync_now_button = QPushButton("Sync now")
        self.sync_now_button.clicked.connect(self._sync_now)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.clicked.connect(self._sign_out)
        buttons.addWidget(self.sync_now_button)
        buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)
        status.addRow("Status", self.state)
        status.addRow("Last sync", self.last_sync)
        status.addRow("Changes waiting", self.waiting)
        status.addRow("", self.error)
        status.addRow("", self.progress)
        status.addRow(buttons)
        layout.addWidget(self.status_box)

        self.seal_box = QGroupBox("End-to-end encryption")
        seal = QFormLayout(self.seal_box)
        self.passphrase = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.passphrase_button = QPushButton("Set or unlock")
        self.passphrase_button.clicked.connect(self._set_passphrase)
        seal.addRow(QLabel(
            "With a passphrase, your words are sealed before they leave this device. Enter the same "
            "passphrase on each device. A lost passphrase cannot be recovered."
        ))  # fmt: skip
        seal.addRow("Passphrase", self.passphrase)
        seal.addRow("", self.passphrase_button)
        layout.addWidget(self.seal_box)
        layout.addStretch(1)

        self.sync.progress.connect(self._on_progress)
        self.sync.failed.connect(self.error.setText)  # a background sync's failure (its status keeps it too)
        self._unsubscribe = services.bus.subscribe(self._on_changes)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        self._acting = False  # an action (sign in, sync, sign out, passphrase) is running
        self._action_error = ""  # why the last action failed (a wrong password), shown until the next
        self._signed_in = False
        self._set_busy(True)  # until the status is read
        self.refresh()

    # -- showing ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.sync.status(self, self._show)

    def _on_changes(self, changes) -> None:
        if changes.sync:
            self.refresh()

    def _show(self, status) -> None:
        self.account_box.setVisible(not status.signed_in)
        self.seal_box.setEnabled(status.signed_in)
        self._signed_in = status.signed_in
        if not self._acting:
            self._set_busy(False)
        if status.signed_in:
            lock = ", encrypted" if status.encrypted else ""
            self.state.setText(
                f"Signed in to {status.server_url} as {status.user} ({status.device_name}{lock})."
            )
        else:
            self.state.setText("Not signed in.")
            if status.server_url and not self.url.text():
                self.url.setText(status.server_url)
                self.user.setText(status.user or "")
        self.last_sync.setText(describe_last_sync(status))
        self.waiting.setText(f"{status.pending:,}")
        # what the person's last action failed with stays until the next action; else sync's own
        self.error.setText(self._action_error or status.last_error or "")

    def _on_progress(self, what: str, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setMaximum(total or 0)  # 0: busy, amount unknown
        self.progress.setValue(done)
        self.progress.setFormat(f"{what}: {done:,}" + (f" of {total:,}" if total else ""))

    def _show_error(self, text: str) -> None:
        self._action_error = text
        self.error.setText(text)

    def _failed(self, failure: Failure) -> None:
        self.progress.hide()
        self._acting = False
        self._set_busy(False)
        self._show_error(str(failure.error))
        self.refresh()

    def _done(self, _result=None) -> None:
        self.progress.hide()
        self._acting = False
        self._set_busy(False)
        self.refresh()

    def _act(self) -> None:
        self._acting = True
        self._set_busy(True)
        self._action_error = ""
        self.error.setText("")

    def _set_busy(self, busy: bool) -> None:
        self.sign_in_button.setDisabled(busy)
        self.passphrase_button.setDisabled(busy)
        for button in (self.sync_now_button, self.sign_out_button):  # these need a sign-in as well
            button.setEnabled(not busy and self._signed_in)

    # -- actions --------------------------------------------------------------------------------

    def _sign_in(self) -> None:
        url, user, password = self.url.text().strip(), self.user.text().strip(), self.password.text()
        if not url or not user or not password:
            self._show_error("Enter the server's address, your user name and your password.")
            return
        self._act()
        self.password.clear()  # kept nowhere: the server gives this device a token of its own

        def signed_in(_status) -> None:
            self._done()
            self._sync_now()  # the first sync, with its progress

        self.sync.sign_in(self, url, user, password, self.device.text().strip(), signed_in, self._failed)

    def _sync_now(self) -> None:
        self._act()
        self.sync.sync_now(self, self._done, self._failed)

    def _sign_out(self) -> None:
        self._act()
        self.sync.sign_out(self, self._done, self._failed)

    def _set_passphrase(self) -> None:
        passphrase = self.passphrase.text()
        if not passphrase:
            self._show_error("Enter the passphrase.")
            return
        self._act()
        self.passphrase.clear()
        self.sync.set_passphrase(self, passphrase, self._done, self._failed)
