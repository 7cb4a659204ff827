"""Sync in the background: soon after each local change, on each server notice, and again with
backoff while the server cannot be reached. Two threads, both stopped by :meth:`SyncRunner.stop`:

- the worker waits to be woken (a local change, a notice, "Sync now"), lets a burst of changes
  settle for a moment, then runs one round of :meth:`SyncEngine.sync_now`;
- the listener holds the server's WebSocket, which only ever says "changed, seq N": then the
  worker pulls. A closed socket is reopened with backoff; a revoked sign-in ends it with its sentence.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from ..changes import ChangeBus, Changes
from .client import ServerUnavailableError, ThrottledError
from .engine import NotSignedInError, Progress, SyncEngine

log = logging.getLogger(__name__)

#: closing code the server uses for a refused or revoked token
WS_REFUSED = 4401
MAX_BACKOFF_S = 60.0


class SyncRunner:
    def __init__(
        self,
        engine: SyncEngine,
        bus: ChangeBus,
        *,
        debounce_s: float = 0.02,
        progress: Progress | None = None,
        on_error: Callable[[str], None] | None = None,
    ):
        self.engine = engine
        self.bus = bus
        self.debounce_s = debounce_s
        self.progress = progress
        self.on_error = on_error
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pull_wanted = threading.Event()
        self._rewire = threading.Event()  # signed in or out: the listener looks again
        self._threads: list[threading.Thread] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._socket = None
        self._socket_lock = threading.Lock()
        self.rounds = 0  # finished rounds (tests and the status bar read it)

    # -- control ------------------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self._changed)
        for target, name in ((self._work, "dataelan-sync"), (self._listen, "dataelan-sync-notices")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.sync_soon(pull=True)

    def sync_soon(self, pull: bool = True) -> None:
        """Ask for a round (a local change: ``pull`` False sends only when something waits)."""
        if pull:
            self._pull_wanted.set()
        self._wake.set()

    def reconnect(self) -> None:
        """Signed in or out: the listener reopens its socket with the new sign-in."""
        self._rewire.set()
        self._close_socket()
        self.sync_soon()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._rewire.set()
        if self._unsubscribe:
            self._unsubscribe()
        self._close_socket()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _changed(self, changes: Changes) -> None:
        if changes != Changes(sync=True):  # the runner's own status updates wake nothing
            self.sync_soon(pull=False)

    # -- the worker ---------------------------------------------------------------------------

    def _work(self) -> None:
        backoff: float | None = None
        while not self._stop.is_set():
            woken = self._wake.wait(backoff)
            if self._stop.is_set():
                return
            if woken:
                self._wake.clear()
                self._stop.wait(self.debounce_s)  # a burst of changes goes in one round
                self._wake.clear()
            try:
                pull = self._pull_wanted.is_set() or backoff is not None
                self._pull_wanted.clear()
                self.engine.sync_now(self.progress, pull=pull)
                backoff = None
            except (ServerUnavailableError, ThrottledError) as err:
                wait = err.retry_after if isinstance(err, ThrottledError) else (backoff or 0.5) * 2
                backoff = min(MAX_BACKOFF_S, wait)
                self._pull_wanted.set()
                log.info("sync: %s (trying again in %.0f s)", err, backoff)
            except NotSignedInError:
                backoff = None
            except Exception as err:  # noqa: BLE001 - wrong passphrase, revoked, refused: said once, kept in status
                backoff = None
                log.warning("sync stopped: %s", err)
                if self.on_error:
                    self.on_error(str(err))
            finally:
                self.rounds += 1

    # -- the notice listener --------------------------------------------------------------------

    def _listen(self) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect

        backoff = 0.5
        refused: dict[str, str] | None = None  # a sign-in the server refused: not tried again
        while not self._stop.is_set():
            self._rewire.clear()
            channel = self.engine.notice_channel()
            if channel is None or channel[1] == refused:
                self._rewire.wait()  # until a sign-in (or the end)
                continue
            url, headers = channel
            try:
                with connect(url, additional_headers=headers, open_timeout=10, close_timeout=1) as socket:
                    with self._socket_lock:
                        self._socket = socket
                    backoff = 0.5
                    for raw in socket:
                        notice = json.loads(raw)
                        if (
                            notice.get("type") == "changed"
                            or notice.get("seq", 0) > self.engine.status().cursor
                        ):
                            self.sync_soon(pull=True)
            except ConnectionClosed as closed:
                if closed.rcvd is not None and closed.rcvd.code == WS_REFUSED:
                    refused = headers
                    self.sync_soon(pull=True)  # the round says why, in the status, in the server's words
                    continue
            except InvalidStatus as err:
                if err.response.status_code == 401:
                    refused = headers
                    self.sync_soon(pull=True)
                    continue
            except (OSError, TimeoutError) as err:
                log.debug("sync notices: %s", err)
            finally:
                with self._socket_lock:
                    self._socket = None
            self._rewire.wait(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _close_socket(self) -> None:
        with self._socket_lock:
            socket = self._socket
        if socket is not None:
            try:
                socket.close()
            except Exception:  # noqa: BLE001 - closing a socket that is already gone
                pass
