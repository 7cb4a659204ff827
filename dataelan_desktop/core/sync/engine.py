"""The app's sync client: sign in, send the outbox, pull what is new and merge it, seal with a passphrase.

One call, :meth:`SyncEngine.sync_now`, does a whole round: push the outbox in batches (each batch
leaves the outbox only once the server has answered for it), then pull pages after the cursor and
hand each page to the stores that own its tables (the cursor moves only after a page is applied).
A failure at any point loses nothing: unanswered operations stay queued, an unapplied page is
pulled again, and replays change nothing on either side. Every failure is one ``SyncError`` with a
sentence for a person, also kept as the status's last error.

The token and the sealing key live in the keyring (``core/secrets.py``), never in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from ..changes import Changes
from ..secrets import NoKeyringError, SecretStore
from .client import PullResult, RejectedError, SyncClient, SyncError
from .clock import COUNTER_DIGITS, WALL_DIGITS, now_ms
from .protocol import (
    MAX_CLOCK_AHEAD_MS,
    MAX_OPS_PER_PUSH,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    Change,
)
from .schema import TABLES
from .seal import PREFIX, Sealer, SealError, sealer_for
from .store import Account, RoundState, SyncStatus, SyncStore

log = logging.getLogger(__name__)

#: keyring entries, one per device (two data folders on one machine are two devices)
TOKEN_KEY = "sync-token-{device}"
SEAL_KEY = "sync-seal-key-{device}"
PULL_PAGE = 5000  # the server's largest page: fewer round trips and commits on a first sync
SEAL_CHECK_S = 60.0
STAMP_LENGTH = WALL_DIGITS + 1 + COUNTER_DIGITS + 1 + 32
TIMEOUT_S = 30.0

#: applies a list of pulled changes of one store's tables; returns what changed
Applier = Callable[[Sequence[Change]], Changes]
#: progress of a long sync: (what, done, total or 0 when unknown)
Progress = Callable[[str, int, int], None]


class NotSignedInError(SyncError):
    pass


class LockedError(SyncError):
    """The account's data is encrypted and this device has no key yet: the passphrase is needed."""


NOT_SIGNED_IN = (
    "This device is not signed in to a sync server (Settings → Sync, or `dataelan sync login URL`)."
)
LOCKED = (
    "Your synced data is encrypted: enter the sync passphrase on this device (Settings → Sync, or "
    "`dataelan sync passphrase`) before it can sync."
)


@dataclass(frozen=True)
class Report:
    pushed: int
    pulled: int


def default_http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=TIMEOUT_S)


class SyncEngine:
    def __init__(
        self,
        store: SyncStore,
        appliers: Mapping[str, Applier],
        secrets: SecretStore,
        http: Callable[[str], httpx.Client] = default_http,
    ):
        missing = set(TABLES) - set(appliers)
        if missing:  # a table added to schema.TABLES needs its owning store's apply_remote here
            raise ValueError(f"no store applies pulled changes of {', '.join(sorted(missing))}")
        self.store = store
        self.appliers = appliers
        self.secrets = secrets
        self._http = http
        self._https: dict[str, httpx.Client] = {}  # one per server: its TLS set-up and connections reused
        self._round = threading.Lock()  # one round at a time (the background runner, "Sync now")
        self._seal_checked_at = float("-inf")  # when the server last said the account is not encrypted

    # -- accounts ----------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        return self.store.status()

    def login(
        self,
        url: str,
        user: str,
        password: str,
        device_name: str = "",
        progress: Callable[[str], None] | None = None,
    ) -> SyncStatus:
        """Sign this device in; its history (everything, the first time) is queued to be sent."""
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise SyncError(f"{url!r} is not a server address: it starts with http:// or https://.")
        device = self.store.device_id()
        login = self._client(url).login(user, password, device, device_name)
        self._keep(TOKEN_KEY.format(device=device), login.token)
        self.store.sign_in(url, login.user, device_name, login.last_op_id, progress)
        return self.store.status()

    def logout(self) -> None:
        """Sign out: the server forgets the token (if it can be reached); what waits stays queued."""
        account = self.store.account()
        device = self.store.device_id()
        token = self.secrets.get(TOKEN_KEY.format(device=device))
        if account is not None and token:
            try:
                self._client(account.server_url, token).logout()
            except SyncError as err:  # offline or already revoked: signing out here still works
                log.info("sign-out not confirmed by the server: %s", err)
        self.secrets.delete(TOKEN_KEY.format(device=device))
        self.secrets.delete(SEAL_KEY.format(device=device))
        self.store.sign_out()

    def set_passphrase(self, passphrase: str) -> None:
        """Turn encryption on for the account (the first device) or unlock it here (the others).
        A wrong passphrase raises SealError with the sentence that says the data cannot be read."""
        account, token = self._account()
        sealer = sealer_for(self._client(account.server_url, token), passphrase)
        self._keep(SEAL_KEY.format(device=account.device_id), sealer.key.hex())
        self.store.set_encrypted(True)

    # -- a round ------------------------------------------------------------------------------

    def sync_now(self, progress: Progress | None = None, *, pull: bool = True) -> Report:
        """Push the outbox, then pull and merge until the server has nothing newer. With ``pull``
        False (a local change woke the background sync) a round with nothing to send does nothing."""
        with self._round:
            state = self.store.round_state()
            account, token = self._signed_in(state.account)  # signed out: said, not recorded
            if not pull and not state.pending:
                return Report(0, 0)
            try:
                client = self._client(account.server_url, token)
                sealer = self._sealer(client, account)
                pushed = self._push(client, sealer, state, progress)
                pulled = self._pull(client, sealer, state.cursor, progress)
            except (SyncError, SealError) as err:
                self.store.finished(str(err))
                raise
        return Report(pushed, pulled)

    def _push(
        self, client: SyncClient, sealer: Sealer | None, state: RoundState, progress: Progress | None
    ) -> int:
        if not state.pending:
            return 0
        if state.clock_ms > now_ms() + MAX_CLOCK_AHEAD_MS // 2:
            # stamps made while the wall clock ran far ahead are refused by the server; once the clock
            # is right again, the waiting operations are stamped afresh (same changes, nothing lost)
            log.warning("the sync clock was ahead of this device's wall clock; restamping the outbox")
            self.store.restamp()
        size, sent = MAX_OPS_PER_PUSH, 0
        while True:
            ops = self.store.pending(size)
            if not ops:
                return sent
            wire = [sealer.seal(op) for op in ops] if sealer else ops
            try:
                client.push(wire)
            except RejectedError as err:
                if "too large" in str(err).lower() and size > 1:  # 8 MiB: long texts; send fewer at once
                    size = max(1, size // 4)
                    continue
                raise
            self.store.sent([op.op_id for op in ops])
            sent += len(ops)
            if progress:
                progress("sending", sent, max(state.pending, sent))
            if len(ops) < size and sent >= state.pending:
                return sent  # all that waited when the round began (later ones: the next round)

    def _pull(self, client: SyncClient, sealer: Sealer | None, cursor: int, progress: Progress | None) -> int:
        arrived = 0
        # the next page is fetched and read while this one is written: a first sync of a long history
        # spends about as long on each (the cursor still moves only once a page is applied)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataelan-sync-fetch") as fetcher:
            upcoming = fetcher.submit(self._fetch, client, sealer, cursor)
            while True:
                page, changes = upcoming.result()
                if page.more:
                    upcoming = fetcher.submit(self._fetch, client, sealer, page.cursor)
                self._apply(changes)
                self.store.pulled(
                    page.cursor, max((c.hlc for c in changes), default=None), done=not page.more
                )
                arrived += len(changes)
                if progress and (page.more or arrived):
                    progress("receiving", arrived, 0)
                if not page.more:
                    return arrived

    def _fetch(
        self, client: SyncClient, sealer: Sealer | None, cursor: int
    ) -> tuple[PullResult, list[Change]]:
        page = client.pull(cursor, PULL_PAGE)
        return page, [self._open(c, sealer) for c in page.changes]

    def _open(self, change: Change, sealer: Sealer | None) -> Change:
        if sealer is not None:
            change = sealer.unseal(change)
        elif _sealed(change):
            raise LockedError(LOCKED)
        problem = _unreadable(change)
        if problem:
            raise SyncError(f"The sync server sent a change this app cannot read ({problem}).")
        return change

    def _apply(self, changes: list[Change]) -> None:
        by_applier: dict[Applier, list[Change]] = {}
        for c in changes:
            by_applier.setdefault(self.appliers[c.table], []).append(c)
        for apply, batch in by_applier.items():
            apply(batch)

    # -- helpers ----------------------------------------------------------------------------

    def notice_channel(self) -> tuple[str, dict[str, str]] | None:
        """Where the server's "pull now" notices come from: the WebSocket URL and its headers
        (None while signed out). The token stays in the headers, never in the URL."""
        try:
            account, token = self._account()
        except SyncError:
            return None
        url = "ws" + account.server_url[4:] + "/v1/ws"  # http→ws, https→wss
        return url, {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}

    def _account(self) -> tuple[Account, str]:
        return self._signed_in(self.store.account())

    def _signed_in(self, account: Account | None) -> tuple[Account, str]:
        if account is None:
            raise NotSignedInError(NOT_SIGNED_IN)
        token = self.secrets.get(TOKEN_KEY.format(device=account.device_id))
        if not token:
            raise NotSignedInError("This device's sync sign-in is missing from the keyring; sign in again.")
        return account, token

    def _client(self, url: str, token: str | None = None) -> SyncClient:
        http = self._https.get(url)
        if http is None:
            http = self._https[url] = self._http(url)
        return SyncClient(http, token)

    def close(self) -> None:
        """Close the connections to the server (the engine's owner is done with it)."""
        for http in self._https.values():
            http.close()
        self._https.clear()

    def _keep(self, name: str, secret: str) -> None:
        try:
            self.secrets.set(name, secret)
        except NoKeyringError:
            raise SyncError(
                "No system keyring is available to keep the sync sign-in safely (install and unlock GNOME "
                "Keyring or KWallet, or use the macOS/Windows keychain)."
            ) from None

    def _sealer(self, client: SyncClient, account: Account) -> Sealer | None:
        if account.encrypted:
            key = self.secrets.get(SEAL_KEY.format(device=account.device_id))
            if not key:
                raise LockedError(LOCKED)
            return Sealer(bytes.fromhex(key))
        # another device may turn encryption on: asked once a minute, not on every round (latency)
        if time.monotonic() - self._seal_checked_at > SEAL_CHECK_S:
            if client.seal_params() is not None:
                raise LockedError(LOCKED)
            self._seal_checked_at = time.monotonic()
        return None


def _sealed(change: Change) -> bool:
    """Whether a change holds sealed values (another device turned encryption on)."""
    sealed = TABLES[change.table].sealed if change.table in TABLES else ()
    if isinstance(change.value, dict):
        values = [change.value.get(name) for name in sealed]
    else:
        values = [change.value] if change.field in sealed else []
    return any(isinstance(v, str) and v.startswith(PREFIX) for v in values)


def _unreadable(change: Change) -> str | None:
    """What makes a pulled change unusable here (the server checked it when it was pushed; this guards
    the columns written from it, at a fraction of ``protocol.validate``'s cost on a first sync)."""
    spec = TABLES.get(change.table)
    if spec is None:
        return f"{change.table!r} is not a synced table"
    if not isinstance(change.row_id, str) or len(change.row_id) != 36:
        return f"{change.row_id!r} is not a row id"
    if not isinstance(change.hlc, str) or len(change.hlc) != STAMP_LENGTH:
        return f"{change.hlc!r} is not a clock stamp"
    if change.kind == "insert":
        if not isinstance(change.value, dict) or not set(change.value) <= spec.immutable:
            return f"an insert into {change.table} with fields it does not have"
    elif change.kind != "set" or change.field not in spec.mutable:
        return f"{change.table}.{change.field} is not a field that can be changed"
    return None


def build_engine(services: Any, http: Callable[[str], httpx.Client] = default_http) -> SyncEngine:
    """The engine over a process's services: each synced table's pulled changes go to its owning store.
    A table added to ``schema.TABLES`` gets its store's ``apply_remote`` here."""
    from functools import partial

    from ..agents.store import AgentStore
    from ..tester import history
    from ..workflows.store import WorkflowStore

    chat = services.store.apply_remote
    tester = partial(history.apply_remote, services.db, bus=services.bus)
    appliers: dict[str, Applier] = {
        "projects": chat,
        "conversations": chat,
        "messages": chat,
        "prompt_templates": services.templates.apply_remote,
        "tester_runs": tester,
        "tester_votes": tester,
        "workflows": WorkflowStore(services.db, services.bus).apply_remote,
        "agents": AgentStore(services.db, services.bus).apply_remote,
    }
    return SyncEngine(SyncStore(services.db, services.bus), appliers, services.secrets, http)
