"""Change notices for WebSockets: "user U is now at seq N", or "device D was revoked".

A notice is emitted inside the transaction that causes it and delivered only if it commits.
With PostgreSQL it is a NOTIFY, so every worker process (each LISTENing on one connection)
hears it, whichever worker took the push; with embedded SQLite there is one process, and the
notice is handed to its subscribers after the commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

CHANNEL = "dataelan_sync"
log = logging.getLogger("dataelan.server")


class Hub:
    """This process's subscribers (open WebSockets), by user."""

    def __init__(self) -> None:
        self._subs: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, user_id: int) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self._subs.setdefault(user_id, set()).add(queue)
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue) -> None:
        subs = self._subs.get(user_id)
        if subs:
            subs.discard(queue)
            if not subs:
                del self._subs[user_id]

    def deliver(self, notice: dict[str, Any]) -> None:
        """On the loop: hand a notice to the user's subscribers (all users' for a "recheck")."""
        targets = (
            [q for subs in self._subs.values() for q in subs]
            if notice.get("recheck")
            else list(self._subs.get(notice.get("user"), ()))
        )
        for queue in targets:
            if queue.full():  # a slow socket needs only the newest "pull now"
                queue.get_nowait()
            queue.put_nowait(notice)

    def deliver_threadsafe(self, notice: dict[str, Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.deliver, notice)


class Notifier:
    """Emits notices transactionally: NOTIFY on PostgreSQL, after-commit hand-off on SQLite."""

    def __init__(self, hub: Hub, postgres: bool):
        self.hub = hub
        self.postgres = postgres

    def emit(self, session: Session, notice: dict[str, Any]) -> None:
        if self.postgres:
            session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": json.dumps(notice)})
            return
        pending = session.info.setdefault("notices", [])
        if not pending:
            event.listen(session, "after_commit", self._after_commit, once=True)
        pending.append(notice)

    def _after_commit(self, session: Session) -> None:
        for notice in session.info.pop("notices", []):
            self.hub.deliver_threadsafe(notice)


async def listen(conninfo: str, hub: Hub, stop: asyncio.Event) -> None:
    """Feed NOTIFYs to this process's hub until ``stop``; reconnects after a lost connection.

    After a reconnect every socket is told to re-check, since notices sent meanwhile are lost.
    """
    import psycopg

    first = True
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                if not first:
                    hub.deliver({"recheck": True})
                first = False
                async for note in conn.notifies():
                    try:
                        hub.deliver(json.loads(note.payload))
                    except ValueError:
                        log.warning("ignored a malformed notice on %s", CHANNEL)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the database restarted or the network dropped: try again shortly
            log.warning("lost the notice connection (%s); reconnecting", type(err).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
