"""One window per data folder: a second start hands what it was asked to open to the running app.

A clicked ``dataelan://`` link, a .gguf file opened from the file manager, or the launcher clicked
again would otherwise start a second window on the same database. The first window listens on a
local socket (a Unix socket, a named pipe on Windows: ``QLocalServer``) named after the data folder,
so that another ``DATAELAN_HOME`` still gets a window of its own. A second start connects, sends
one line of JSON (``{"kind", "target"}``, or nothing to open: just show the window), waits for
"ok" and ends; the running window comes to the front and opens what was asked.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from ..cli.launch import OpenRequest
from ..core import paths

log = logging.getLogger(__name__)

CONNECT_MS = 300  # a running app's socket answers at once; a stale one (a crash) refuses at once
ANSWER_MS = 3000  # the running app's loop may be busy for a moment (a long paint, a save)
MAX_LINE = 64 * 1024  # a request is a kind and a path: anything longer is not ours


def server_name() -> str:
    """The socket's name for this user and data folder."""
    folder = str(paths.data_dir_location().resolve())
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # a container's user with no name: its number serves as well
        who = str(os.getuid()) if hasattr(os, "getuid") else ""
    digest = hashlib.sha256(f"{who}\0{folder}".encode()).hexdigest()[:16]
    return f"dataelan-{digest}"


def hand_over(request: OpenRequest | None, name: str | None = None) -> bool:
    """Send ``request`` to the app already running on this data folder; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    body = {} if request is None else {"kind": request.kind, "target": request.target}
    socket.write(json.dumps(body).encode() + b"\n")
    socket.flush()
    answered = socket.waitForReadyRead(ANSWER_MS) and socket.readLine().data().strip() == b"ok"
    socket.disconnectFromServer()
    return answered


class InstanceServer(QObject):
    """The running app's end: ``requested`` (an OpenRequest, or None to just show the window)."""

    requested = Signal(object)

    def __init__(self, parent: QObject | None = None, name: str | None = None):
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # this user only
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Start listening; a socket left by a crashed app is removed first."""
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        if self.server.listen(self.name):
            return True
        log.warning("another start cannot hand over to this window: %s", self.server.errorString())
        return False

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            if socket.bytesAvailable() > MAX_LINE:
                socket.abort()
            return
        line = socket.readLine(MAX_LINE).data()
        try:
            body = json.loads(line or b"{}")
            request = OpenRequest(str(body["kind"]), str(body["target"])) if body else None
        except (ValueError, KeyError, TypeError):
            log.warning("a start sent something this window cannot open: %r", line[:200])
            socket.abort()
            return
        socket.write(b"ok\n")
        socket.flush()
        self.requested.emit(request)
