"""Stateless workers on PostgreSQL: two server processes on one database. A push taken by one
reaches the WebSockets held by the other (LISTEN/NOTIFY), and a revocation closes a socket held by
either at once, not at its next periodic check."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from dataelan_desktop.core.sync.client import SyncClient
from dataelan_desktop.core.sync.device import MemoryDevice

from .live import LiveServer
from .test_cli_server import ws_connect


@pytest.fixture
def two_servers(tmp_path, pg_url):
    # a re-check period far longer than the test: only a NOTIFY can close a socket in time
    servers = [LiveServer(tmp_path / f"home{i}", pg_url, DATAELAN_SERVER_WS_RECHECK_S="600") for i in (1, 2)]
    yield servers
    for server in servers:
        server.stop()


def test_notices_cross_worker_processes_through_postgres(two_servers):
    first, second = two_servers
    user = f"f{uuid.uuid4().hex[:8]}"
    first.add_user(user, "fan-out password")
    first.start()
    second.start()
    listener, listener_client = MemoryDevice(), SyncClient(httpx.Client(base_url=first.url, timeout=30))
    listener_client.login(user, "fan-out password", listener.id, "listens on the first")
    writer, writer_client = MemoryDevice(), SyncClient(httpx.Client(base_url=second.url, timeout=30))
    writer_client.login(user, "fan-out password", writer.id, "writes to the second")

    with ws_connect(first, listener_client.token) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        writer.insert("conversations", {"created_at": "2024"})
        writer.push(writer_client)  # taken by the second process
        notice = json.loads(ws.recv(timeout=10))
        assert notice == {"type": "changed", "seq": 1}
        assert listener.pull(listener_client) == 1

        writer_client.revoke(listener.id)  # on the second process; the socket is on the first
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 4401
