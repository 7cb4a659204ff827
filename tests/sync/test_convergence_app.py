"""Convergence as a property, with the app's own client: 2-5 real app databases (their stores, capture,
outbox, engine and ``apply_remote``) edit offline, then sync through the real server app in random
orders while pushes are duplicated, lost on the way there or back and retried, and pull answers are
lost. After two rounds every device holds the same projects, conversations and messages, the server
holds the same, nothing waits in any outbox, and no message is missing.

``tests/server/test_convergence.py`` holds the protocol to the same property with in-memory devices;
this one holds the app's SQLite merge (``core/sync/apply.py`` and the stores) to it.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from pathlib import Path

import httpx
import hypothesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from sqlalchemy import text

from dataelan_desktop.core.providers.reply import Reply
from dataelan_desktop.core.services import build_services
from dataelan_desktop.core.sync.client import SyncClient, SyncError
from dataelan_desktop.core.sync.device import MemoryDevice
from dataelan_desktop.core.sync.engine import build_engine
from tests.server.conftest import (  # noqa: F401 - fixtures
    PASSWORD,
    add_user,
    app,
    database_url,
    http,
    pg_url,
    settings,
)

EXAMPLES = int(os.environ.get("DATAELAN_SYNC_APP_EXAMPLES", "5"))
SERVER = "http://testserver"
ACTIONS = ["new_conversation", "message", "message", "reply", "rename", "pin", "delete_conversation",
           "new_project", "rename_project", "move", "delete_project"]  # fmt: skip
FAULTS = ["ok", "ok", "duplicate", "lost_request", "lost_response"]


class Faults(httpx.BaseTransport):
    """The server app's transport, with the faults drawn for the next requests: a push sent twice, a
    request lost on the way, an answer lost on the way back (the server did the work)."""

    def __init__(self, server: httpx.Client):
        self.server = server  # the server app's TestClient
        self.pending: deque[str] = deque()

    def _send(self, request: httpx.Request) -> httpx.Response:
        # re-made for the TestClient (its own HTTP library): method, path and query, headers, body
        answer = self.server.request(
            request.method,
            request.url.raw_path.decode(),
            headers=dict(request.headers),
            content=request.read(),
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.pending.popleft() if self.pending and request.url.path != "/v1/login" else "ok"
        if fault == "lost_request":
            raise httpx.ConnectError("lost on the way", request=request)
        response = self._send(request)
        if fault == "duplicate" and request.method == "POST":
            response = self._send(request)
        if fault == "lost_response":
            raise httpx.ReadError("lost on the way back", request=request)
        return response


class AppDevice:
    def __init__(self, folder: Path, http_app):
        self.faults = Faults(http_app)
        self.services = build_services(folder / "dataelan.sqlite3")
        self.engine = build_engine(
            self.services, http=lambda url: httpx.Client(base_url=url, transport=self.faults)
        )

    @property
    def store(self):
        return self.services.store

    def ids(self, table: str, where: str = "", **params) -> list[str]:
        """Live row ids in the order they were written here (never sorted by their random UUIDs:
        hypothesis must build the same scenario from the same draws when it replays or shrinks)."""
        sql = f"SELECT id FROM {table} WHERE deleted_at IS NULL {where} ORDER BY rowid"
        return self.services.db.call(lambda s: list(s.scalars(text(sql), params)))

    def state(self) -> dict[str, set[tuple]]:
        queries = {
            "projects": "SELECT id, name, instructions, deleted_at IS NOT NULL FROM projects",
            "conversations": "SELECT id, project_id, title, pinned, archived, model, deleted_at IS NOT NULL "
            "FROM conversations",
            "messages": "SELECT id, conversation_id, parent_id, role, content, status, deleted_at IS NOT NULL "
            "FROM messages",
        }
        return self.services.db.call(
            lambda s: {name: {tuple(r) for r in s.execute(text(sql))} for name, sql in queries.items()}
        )

    def close(self) -> None:
        self.engine.close()
        self.services.close()


def offline_edits(data, device: AppDevice, created: set[str], count: int) -> None:
    store = device.store
    for _ in range(count):
        action = data.draw(st.sampled_from(ACTIONS))
        conversations, projects = device.ids("conversations"), device.ids("projects")
        words = data.draw(
            st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
        )
        if action == "new_conversation" or not conversations:
            store.create_conversation(title=words)
            continue
        conv = data.draw(st.sampled_from(conversations))
        if action in ("message", "reply"):
            branch_points = [None, *device.ids("messages", "AND conversation_id = :c", c=conv)]
            parent = data.draw(st.sampled_from(branch_points))  # a new branch wherever it starts
            question = store.add_user_message(conv, words, [], "m:x", parent_id=parent)
            created.add(question)
            if action == "reply":
                reply = store.begin_reply(conv, question, "m:x", "host:1")
                store.finish_reply(reply, Reply("m:x", f"answer to {words}", "complete"), question)
                created.add(reply)
        elif action == "rename":
            store.update_conversation(conv, title=words)
        elif action == "pin":
            store.update_conversation(conv, pinned=data.draw(st.booleans()))
        elif action == "delete_conversation":
            store.delete_conversation(conv)
        elif action == "new_project":
            store.create_project(words.strip() or "p")
        elif action == "rename_project" and projects:
            store.update_project(data.draw(st.sampled_from(projects)), name=words.strip() or "p")
        elif action == "move" and projects:
            store.update_conversation(conv, project_id=data.draw(st.sampled_from(projects)))
        elif action == "delete_project" and projects:
            store.delete_project(data.draw(st.sampled_from(projects)))  # its conversations too, in bulk


def faulty_round(data, device: AppDevice) -> None:
    """One device's sync in a round: the drawn faults strike its requests; each failure is one
    sentence, and the device tries again until a round goes through (dropped, then retried)."""
    device.faults.pending.extend(data.draw(st.lists(st.sampled_from(FAULTS), max_size=4)))
    for _attempt in range(10):
        try:
            device.engine.sync_now()
            return
        except SyncError as err:
            assert "Cannot reach the sync server" in str(err), err
    raise AssertionError("ten tries did not get one round through")


@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # no shrinking: each example builds up to five app databases, and shrinking one outlasts the
    # test's timeout; the failing example is printed as drawn
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_app_devices_converge_through_the_server(app, http, data):  # noqa: F811 - fixtures
    user = add_user(app)
    count = data.draw(st.integers(2, 5), label="devices")
    with tempfile.TemporaryDirectory() as tmp:
        devices = [AppDevice(Path(tmp) / f"d{i}", http) for i in range(count)]
        try:
            created: set[str] = set()
            for i, device in enumerate(devices):
                device.engine.login(SERVER, user, PASSWORD, f"device {i}")
            offline_edits(data, devices[0], created, 3)  # a shared start, synced to everyone
            for device in devices:
                device.engine.sync_now()
            for device in devices:
                offline_edits(data, device, created, data.draw(st.integers(0, 6)))

            for _round in range(2):
                for index in data.draw(st.permutations(range(count))):
                    faulty_round(data, devices[index])

            states = [d.state() for d in devices]
            for state in states[1:]:
                assert state == states[0]
            assert all(d.engine.status().pending == 0 for d in devices)
            held = {row[0] for row in states[0]["messages"]}
            assert held == created, f"missing: {created - held}, unexpected: {held - created}"

            # the server holds the same: a new device pulls everything it has
            fresh, client = MemoryDevice(), SyncClient(http)
            client.login(user, PASSWORD, fresh.id, "fresh")
            fresh.pull(client, 5000)
            assert {r for t, r in fresh.replica.rows if t == "messages"} == created
            titles = {
                row[0]: row[2] for row in states[0]["conversations"]
            }  # every conversation's title, as the server's registers hold it
            assert {
                r: fresh.replica.row("conversations", r).get("title") for t, r in fresh.replica.rows
                if t == "conversations"
            } == titles  # fmt: skip
        finally:
            for device in devices:
                device.close()
