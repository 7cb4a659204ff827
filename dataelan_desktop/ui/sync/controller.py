"""One sync controller per window's services: the engine, the background runner, and signals for views.

Views ask for the status and for actions through ``ui/ops.py``; the runner's progress and errors,
reported from its own threads, reach them as Qt signals (queued onto the GUI thread).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from .. import ops

if TYPE_CHECKING:
    from ...core.services import Services

_controllers: dict[int, SyncController] = {}


class SyncController(QObject):
    #: (what, done, total or 0): a long sync's progress, from the runner's thread
    progress = Signal(str, int, int)
    #: a round ended with an error; the sentence to show
    failed = Signal(str)

    def __init__(self, services: Services):
        super().__init__()
        from ...core.sync.engine import build_engine  # sync's edge: loaded after the window is up
        from ...core.sync.runner import SyncRunner

        self.services = services
        self.engine = build_engine(services)
        self.runner = SyncRunner(
            self.engine,
            services.bus,
            progress=lambda what, done, total: self.progress.emit(what, done, total),
            on_error=self.failed.emit,
        )
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.runner.start()

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.runner.stop()
        self.engine.close()

    # -- actions, each a change op (off the GUI thread; failures said in one place) ----------------

    def status(self, owner: QObject, on_done) -> None:
        ops.query(owner, "sync-status", self.engine.status, on_done=on_done)

    def sign_in(
        self, owner: QObject, url: str, user: str, password: str, device: str, on_done, on_error
    ) -> None:
        def work(progress: ops.Progress) -> Any:
            status = self.engine.login(url, user, password, device, lambda text: progress.report(text, 0, 0))
            self.runner.reconnect()
            return status

        ops.change(
            owner, work, on_done=on_done, on_error=on_error, on_progress=lambda *a: self.progress.emit(*a)
        )

    def sync_now(self, owner: QObject, on_done, on_error) -> None:
        def work(progress: ops.Progress) -> Any:
            return self.engine.sync_now(lambda what, done, total: progress.report(what, done, total))

        ops.change(
            owner, work, on_done=on_done, on_error=on_error, on_progress=lambda *a: self.progress.emit(*a)
        )

    def sign_out(self, owner: QObject, on_done, on_error) -> None:
        def work() -> None:
            self.engine.logout()
            self.runner.reconnect()

        ops.change(owner, work, on_done=on_done, on_error=on_error)

    def set_passphrase(self, owner: QObject, passphrase: str, on_done, on_error) -> None:
        def work() -> None:
            self.engine.set_passphrase(passphrase)
            self.runner.sync_soon()

        ops.change(owner, work, on_done=on_done, on_error=on_error)


def controller_for(services: Services) -> SyncController:
    """The one controller of these services (the window's indicator and the Settings page share it)."""
    key = id(services)
    found = _controllers.get(key)
    if found is None:
        found = _controllers[key] = SyncController(services)
        weakref.finalize(services, _controllers.pop, key, None)
    return found
