"""Bad input gets one clear sentence each, and changes nothing: a wrong password (then too many),
a revoked token, a client of another protocol version, a malformed or oversized push, a clock far
in the future, and a server that disappears mid-sync."""

from __future__ import annotations

import uuid

import httpx
import pytest

from dataelan_desktop.core.sync import client as client_module
from dataelan_desktop.core.sync.client import (
    AuthError,
    ProtocolMismatchError,
    RejectedError,
    ServerUnavailableError,
    SyncClient,
    ThrottledError,
)
from dataelan_desktop.core.sync.clock import now_ms
from dataelan_desktop.core.sync.device import MemoryDevice
from dataelan_desktop.core.sync.protocol import Operation

from .conftest import PASSWORD, add_user, fast_settings, signed_in


def one_sentence(err: Exception) -> str:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


def test_wrong_password_then_too_many_tries_even_across_workers(app, http, settings):
    """The failure count lives in the database: a second worker on the same database agrees."""
    from fastapi.testclient import TestClient

    from dataelan_desktop.server.app import create_app

    user = add_user(app)
    other_worker = create_app(fast_settings(settings.database_url), migrate=False)
    with TestClient(other_worker) as http2:
        clients = [SyncClient(http), SyncClient(http2)]
        for attempt in range(5):
            with pytest.raises(AuthError) as err:
                clients[attempt % 2].login(user, "not the password", str(uuid.uuid4()))
            assert one_sentence(err.value) == "Wrong user name or password."
        for client in clients:
            with pytest.raises(ThrottledError) as err:
                client.login(user, PASSWORD, str(uuid.uuid4()))  # even the right password waits now
            assert "Too many failed sign-ins; try again in" in one_sentence(err.value)
            assert 0 < err.value.retry_after <= 901
    # an unknown user is answered exactly like a wrong password
    with pytest.raises(AuthError, match=r"^Wrong user name or password\.$"):
        SyncClient(http).login("nobody-" + uuid.uuid4().hex[:6], PASSWORD, str(uuid.uuid4()))


def test_a_revoked_device_is_told_to_sign_in_again(app, http):
    user = add_user(app)
    device, client = signed_in(http, user)
    other = SyncClient(http)
    other.login(user, PASSWORD, str(uuid.uuid4()), "the laptop")
    other.revoke(device.id)
    with pytest.raises(AuthError) as err:
        client.pull(0)
    assert "no longer valid (revoked or replaced); sign in again" in one_sentence(err.value)


@pytest.mark.parametrize("version, words", [(99, "update the server"), (0, "update the app")])
def test_a_client_of_another_protocol_version_is_told_which_side_to_update(http, monkeypatch, version, words):
    monkeypatch.setattr(client_module, "PROTOCOL_VERSION", version)
    with pytest.raises(ProtocolMismatchError) as err:
        SyncClient(http).version()
    assert words in one_sentence(err.value) and "protocol 1" in str(err.value)


def test_malformed_pushes_are_refused_whole_with_the_reason(app, http):
    user = add_user(app)
    device, client = signed_in(http, user)
    good = Operation(
        1, "conversations", str(uuid.uuid4()), "insert", None, {"created_at": "x"}, str(device.clock.tick())
    )
    cases = [
        ({"ops": [{**good.to_json(), "kind": "update"}]}, "The request is malformed: ops.0.kind"),
        ({"ops": "everything"}, "The request is malformed: ops"),
        ({"ops": [good.to_json(), {**good.to_json(), "op_id": 2, "table": "api_keys"}]},
         "Operation 2 (op id 2) was refused: 'api_keys' is not a synced table"),
        ({"ops": [{**good.to_json(), "kind": "set", "field": "content", "table": "messages", "value": "edit"}]},
         "messages.content is not a field that can be changed"),
        ({"ops": [{**good.to_json(), "hlc": good.hlc.replace(device.clock.device, uuid.uuid4().hex)}]},
         "stamp must carry the device that pushes it"),
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {client.token}"}
    for body, words in cases:
        response = http.post("/v1/push", json=body, headers=headers)
        assert response.status_code == 422
        assert words in response.json()["detail"], response.json()
    response = http.post(
        "/v1/push", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422 and "malformed" in response.json()["detail"]
    assert client.pull(0).changes == []  # nothing of any refused push was stored


def test_an_oversized_push_is_refused_with_the_limit(app, http):
    user = add_user(app)
    device, client = signed_in(http, user)
    conv = device.insert("conversations", {"created_at": "x"})
    device.insert("messages", {"conversation_id": conv, "role": "user", "content": "x" * (9 * 1024 * 1024)})
    with pytest.raises(RejectedError) as err:
        device.push(client)
    assert "larger than the server accepts (8 MiB); send smaller batches" in one_sentence(err.value)
    for _ in range(5001):
        device.set("conversations", conv, "pinned", True)
    with pytest.raises(RejectedError, match="at most 5000 operations"):
        client.push(device.outbox[2:])  # 5001 small operations
    assert len(device.outbox) == 2 + 5001 and client.pull(0).changes == []


def test_a_clock_far_in_the_future_is_refused_not_clamped(app, http):
    user = add_user(app)
    future = now_ms() + 3 * 3600 * 1000
    device, client = signed_in(http, user, wall=lambda: future)
    device.insert("conversations", {"created_at": "x"})
    with pytest.raises(RejectedError) as err:
        device.push(client)
    assert "clock is 180 minutes ahead of the server's; set the clock right and sync again" in one_sentence(
        err.value
    )
    assert len(device.outbox) == 1  # kept for when the clock is right


def test_a_server_that_disappears_mid_sync_is_one_clear_message(app, http):
    user = add_user(app)
    device, client = signed_in(http, user)
    device.insert("conversations", {"created_at": "x"})
    device.push(client)
    device.insert("conversations", {"created_at": "y"})
    with socket_closed() as url:
        gone = SyncClient(httpx.Client(base_url=url, timeout=5), token=client.token)
        with pytest.raises(ServerUnavailableError) as err:
            device.sync(gone)
    assert "Cannot reach the sync server" in one_sentence(err.value)
    assert len(device.outbox) == 1  # the change waits for the next sync
    device.sync(client)
    assert device.outbox == [] and len(device.replica.rows) == 2


class socket_closed:
    """A loopback address where nothing listens any more."""

    def __enter__(self) -> str:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        return None


def test_memory_device_keeps_unsent_changes_when_the_server_refuses(app, http):
    user = add_user(app)
    device = MemoryDevice()
    client = SyncClient(http)
    with pytest.raises(AuthError):
        client.login(user, "wrong password!", device.id)
    device.insert("projects", {"created_at": "x"})
    with pytest.raises(AuthError, match="Sign in first"):
        device.push(client)
    assert len(device.outbox) == 1


def test_a_websocket_of_another_protocol_version_is_refused_with_the_sentence(app, http):
    from starlette.testclient import WebSocketDenialResponse

    user = add_user(app)
    _device, client = signed_in(http, user)
    headers = {"Authorization": f"Bearer {client.token}", "X-Dataelan-Protocol": "9"}
    with pytest.raises(WebSocketDenialResponse) as denied, http.websocket_connect("/v1/ws", headers=headers):
        pass
    assert denied.value.status_code == 426
    assert denied.value.json()["detail"] == (
        "This app speaks sync protocol 9 and the server only protocol 1: update the server."
    )
