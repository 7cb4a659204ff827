"""A real server process (uvicorn on a loopback port) SIGKILLed in the middle of a push and of a
pull: after a restart and a retry nothing is lost and nothing is there twice."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from dataelan_desktop.core.sync.client import ServerUnavailableError, SyncClient
from dataelan_desktop.core.sync.device import MemoryDevice

from .live import LiveServer

PASSWORD = "kill test password"


@pytest.fixture
def live(tmp_path, database_url):
    server = LiveServer(tmp_path / "home", database_url)
    yield server
    server.stop()


def _device(server: LiveServer, user: str) -> tuple[MemoryDevice, SyncClient, httpx.Client]:
    device = MemoryDevice()
    http = httpx.Client(base_url=server.url, timeout=30)
    client = SyncClient(http)
    client.login(user, PASSWORD, device.id, "kill test")
    return device, client, http


def _write_conversation(device: MemoryDevice, messages: int) -> set[str]:
    conv = device.insert("conversations", {"created_at": "2024-06-01T00:00:00+00:00"})
    device.set("conversations", conv, "title", "survives a crash")
    parent, ids = None, set()
    for i in range(messages):
        parent = device.insert(
            "messages",
            {"conversation_id": conv, "parent_id": parent, "role": "user", "content": f"message {i}"},
        )
        ids.add(parent)
    return ids


def _server_messages(server: LiveServer, user: str) -> list[str]:
    """Every message row the server sends a brand-new device (a list: duplicates would show)."""
    _fresh, client, http = _device(server, user)
    ids, cursor = [], 0
    while True:
        page = client.pull(cursor, 500)
        ids += [c.row_id for c in page.changes if c.table == "messages" and c.kind == "insert"]
        cursor = page.cursor
        if not page.more:
            http.close()
            return ids


def test_server_killed_in_the_middle_of_a_push(live):
    user = f"k{uuid.uuid4().hex[:8]}"
    live.add_user(user, PASSWORD)
    live.start(DATAELAN_SERVER_FAULT="pause-push-before-commit")
    device, client, http = _device(live, user)
    written = _write_conversation(device, 400)
    failure: list[Exception] = []

    def push():
        try:
            device.push(client, 250)
        except ServerUnavailableError as err:
            failure.append(err)

    pusher = threading.Thread(target=push)
    pusher.start()
    assert live.wait_for_log("fault: push paused before commit"), "the push never reached its commit"
    live.kill()  # in the transaction, before the commit
    pusher.join(timeout=30)
    assert failure and "your changes are kept" in str(failure[0])
    assert len(device.outbox) == 402  # nothing was taken off the outbox

    live.start()  # no fault this time; the device simply pushes again
    device.push(client, 250)
    assert device.outbox == []
    on_server = _server_messages(live, user)
    assert sorted(on_server) == sorted(written)  # every message, each once
    http.close()


def test_server_killed_in_the_middle_of_a_pull(live):
    user = f"k{uuid.uuid4().hex[:8]}"
    live.add_user(user, PASSWORD)
    live.start(DATAELAN_SERVER_FAULT="pause-pull")
    writer, writer_client, writer_http = _device(live, user)
    written = _write_conversation(writer, 300)
    writer.push(writer_client)
    writer_http.close()

    reader, client, http = _device(live, user)
    failure: list[Exception] = []

    def pull():
        try:
            reader.pull(client, 100)  # the first page answers; the second is where the server dies
        except ServerUnavailableError as err:
            failure.append(err)

    puller = threading.Thread(target=pull)
    puller.start()
    assert live.wait_for_log("fault: pull paused before answering")
    live.kill()
    puller.join(timeout=30)
    assert failure and "Cannot reach the sync server" in str(failure[0])
    kept = len(reader.replica.rows) + sum(len(f) for f in reader.replica.registers.values())
    assert reader.cursor > 0 and kept == 100  # the first page is kept, and only it

    live.start()
    reader.pull(client, 100)
    messages = [r for t, r in reader.replica.rows if t == "messages"]
    assert sorted(messages) == sorted(written)
    assert (
        reader.replica.row("conversations", next(r for t, r in reader.replica.rows if t == "conversations"))[
            "title"
        ]
        == "survives a crash"
    )
    assert sorted(_server_messages(live, user)) == sorted(written)
    http.close()
