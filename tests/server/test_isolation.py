"""Isolation: for every endpoint in the OpenAPI document, user B's token cannot read or change
user A's rows or devices (404, never 200). A revoked token is refused at once, on the WebSocket too."""

from __future__ import annotations

import json
import uuid

import pytest
from starlette.websockets import WebSocketDisconnect

from dataelan_desktop.core.sync.client import AuthError
from dataelan_desktop.core.sync.protocol import Operation

from .conftest import PASSWORD, add_user, signed_in


def _state(client, device) -> dict:
    device.cursor = 0
    device.replica.rows.clear()
    device.replica.registers.clear()
    device.pull(client)
    return device.replica.state()


@pytest.fixture
def two_users(app, http):
    alice, bob = add_user(app), add_user(app)
    a, a_client = signed_in(http, alice)
    conv = a.insert("conversations", {"created_at": "2024-01-01"})
    a.set("conversations", conv, "title", "Alice's private title")
    msg = a.insert("messages", {"conversation_id": conv, "role": "user", "content": "Alice's words"})
    a.push(a_client)
    b, b_client = signed_in(http, bob)
    return {"a": (a, a_client), "b": (b, b_client), "conv": conv, "msg": msg, "bob": bob}


def test_no_endpoint_lets_one_user_reach_anothers_rows(app, http, two_users):
    a, a_client = two_users["a"]
    b, b_client = two_users["b"]
    conv, msg = two_users["conv"], two_users["msg"]
    before = _state(a_client, a)
    b_headers = {"Authorization": f"Bearer {b_client.token}"}
    stamp = str(b.clock.tick())
    hijack = Operation(1, "conversations", conv, "set", "title", "Bob was here", stamp).to_json()

    # (method, path) -> the request B makes aimed at A's data, and what B must get back
    cases = {
        ("get", "/v1/rows/{table}/{row_id}"): [
            ("GET", f"/v1/rows/conversations/{conv}", 404),
            ("GET", f"/v1/rows/messages/{msg}", 404),
        ],
        ("delete", "/v1/devices/{device_id}"): [("DELETE", f"/v1/devices/{a.id}", 404)],
        ("post", "/v1/push"): [("POST", "/v1/push", 200, {"ops": [hijack]})],  # lands in B's own space
        ("get", "/v1/pull"): [("GET", "/v1/pull?after=0", 200)],
        ("get", "/v1/devices"): [("GET", "/v1/devices", 200)],
        ("get", "/v1/me"): [("GET", "/v1/me", 200)],
        ("get", "/v1/seal"): [("GET", "/v1/seal", 200)],
        ("put", "/v1/seal"): [("PUT", "/v1/seal", 200, {"params": {
            "kdf": "argon2id", "salt": "A" * 24, "opslimit": 2, "memlimit": 67108864, "check": "sealed:v1:AAAA"}})],
        ("get", "/v1/version"): [("GET", "/v1/version", 200)],
        ("post", "/v1/login"): [("POST", "/v1/login", 401, {
            "user": "x", "password": PASSWORD, "device_id": a.id, "device_name": "steal"})],
        ("post", "/v1/logout"): [("POST", "/v1/logout", 204)],  # signs B out, not A
    }  # fmt: skip
    documented = {
        (method, path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "delete", "patch")
    }
    assert documented == set(cases), "a new endpoint needs its isolation case here"

    # (A's conversation id itself may come back: B's hijack wrote a register under it in B's own space)
    private = [msg, a.id, "Alice's private title", "Alice's words", a_client.token]
    for (_method, _path), requests in cases.items():
        for method, url, expected, *body in requests:
            response = http.request(method, url, headers=b_headers, json=body[0] if body else None)
            assert response.status_code == expected, (url, response.text)
            for secret in private:
                assert secret not in response.text, (url, secret)
    assert b_client.token and a_client.token
    # A's data and sign-in are as they were
    assert _state(a_client, a) == before
    assert a.replica.row("conversations", conv)["title"] == "Alice's private title"
    assert json.loads(http.get("/v1/seal", headers={"Authorization": f"Bearer {a_client.token}"}).text) == {
        "params": None
    }


def test_a_revoked_token_is_refused_at_once_and_its_websocket_closed(app, http):
    user = add_user(app)
    phone, phone_client = signed_in(http, user)
    laptop, laptop_client = signed_in(http, user)
    with http.websocket_connect("/v1/ws", headers={"Authorization": f"Bearer {phone_client.token}"}) as ws:
        assert ws.receive_json()["type"] == "hello"
        laptop_client.revoke(phone.id)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    assert "revoked" in closed.value.reason
    with pytest.raises(AuthError, match="no longer valid"):
        phone_client.pull(0)
    # signing in again gives a new token; the old one stays dead
    old = phone_client.token
    phone_client.login(user, PASSWORD, phone.id, "phone")
    assert phone_client.token != old
    assert http.get("/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert [d["revoked"] for d in laptop_client.devices() if d["id"] == phone.id] == [False]


def test_a_websocket_without_a_good_token_is_closed_with_the_reason(http):
    for headers in ({}, {"Authorization": "Bearer " + uuid.uuid4().hex}):
        with (
            http.websocket_connect("/v1/ws", headers=headers) as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 4401 and "sign" in closed.value.reason.lower()
