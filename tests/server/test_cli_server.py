"""`dataelan server …` as an administrator uses it: the real CLI in a subprocess, a real server."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dataelan_desktop.cli.server import DEFAULT_PORT
from dataelan_desktop.core.sync.client import AuthError, SyncClient
from dataelan_desktop.core.sync.device import MemoryDevice

from .live import LiveServer


def ws_connect(server: LiveServer, token: str):
    return connect(
        server.url.replace("http", "ws") + "/v1/ws", additional_headers={"Authorization": f"Bearer {token}"}
    )


def test_server_run_alone_starts_a_working_server_on_an_empty_folder(tmp_path):
    home = tmp_path / "empty-home"  # does not exist yet
    server = LiveServer(home, None)
    try:
        server.add_user("ada", "a long password")
        server.start()
        assert (home / "server" / "server.sqlite3").is_file()
        assert httpx.get(server.url + "/docs").status_code == 200
        device, client = MemoryDevice(), SyncClient(httpx.Client(base_url=server.url))
        client.login("ada", "a long password", device.id, "first device")
        device.insert("projects", {"created_at": "2024"})
        device.sync(client)
        assert device.outbox == [] and client.pull(0).changes
    finally:
        server.stop()


def test_dataelan_server_alone_starts_a_working_server_and_says_how_to_add_a_user(tmp_path):
    """The issue's promise: `dataelan server`, no action, no option, on a data folder that is empty."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", DEFAULT_PORT)) == 0:
            pytest.skip(f"port {DEFAULT_PORT} (the server's default) is taken on this machine")
    server = LiveServer(tmp_path / "empty-home", None)
    try:
        server.start(alone=True)
        assert server.wait_for_log("no users yet: add one with `dataelan server add-user NAME`", 10)
        assert httpx.get(server.url + "/docs").status_code == 200
        server.add_user("ada", "a long password")  # while it runs
        device, client = MemoryDevice(), SyncClient(httpx.Client(base_url=server.url))
        client.login("ada", "a long password", device.id, "first device")
        device.insert("projects", {"created_at": "2024"})
        device.sync(client)
        assert device.outbox == [] and (tmp_path / "empty-home" / "server" / "server.sqlite3").is_file()
    finally:
        server.stop()


@pytest.fixture
def live(tmp_path, database_url):
    server = LiveServer(tmp_path / "home", database_url, DATAELAN_SERVER_WS_RECHECK_S="0.5")
    yield server
    server.stop()


def test_admin_commands_add_list_revoke_and_reset(live):
    user = f"a{uuid.uuid4().hex[:8]}"
    added = live.admin("add-user", user, "--password-stdin", input="first password\n")
    assert added.returncode == 0 and f"added user {user}" in added.stdout
    again = live.admin("add-user", user, "--password-stdin", input="first password\n")
    assert again.returncode == 1 and again.stderr.strip() == f"error: there is already a user called {user}"
    short = live.admin("add-user", "someone", "--password-stdin", input="short\n")
    assert short.stderr.strip() == "error: a password needs at least 8 characters"
    no_tty = live.admin("add-user", "someone")
    assert (
        no_tty.stderr.strip() == "error: no terminal to ask for the password; pipe it with --password-stdin"
    )
    assert user in live.admin("users").stdout

    live.start()
    http = httpx.Client(base_url=live.url, timeout=30)
    phone, phone_client = MemoryDevice(), SyncClient(http)
    phone_client.login(user, "first password", phone.id, "phone")
    devices = live.admin("devices", user).stdout
    assert phone.id in devices and "phone" in devices

    with ws_connect(live, phone_client.token) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        revoked = live.admin("revoke", phone.id)
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)  # the open socket of a revoked device is closed
        assert closed.value.rcvd.code == 4401
    with pytest.raises(AuthError):
        phone_client.pull(0)
    assert "revoked" in live.admin("devices", user).stdout
    assert live.admin("revoke", str(uuid.uuid4())).stderr.startswith("error: no device")

    laptop, laptop_client = MemoryDevice(), SyncClient(http)
    laptop_client.login(user, "first password", laptop.id, "laptop")
    reset = live.admin("reset-password", user, "--password-stdin", input="second password\n")
    assert "1 device(s) signed out" in reset.stdout, reset.stderr
    with pytest.raises(AuthError):
        laptop_client.pull(0)
    with pytest.raises(AuthError, match="Wrong user name or password"):
        laptop_client.login(user, "first password", laptop.id)
    laptop_client.login(user, "second password", laptop.id, "laptop")
    assert laptop_client.pull(0).cursor == 0
    http.close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("run", "--port", "99999"), "'99999' is not a port (1-65535)"),
        (("run", "--workers", "0"), "'0' is not a number of workers"),
        (("users", "--database", "garbage://x"), "--database garbage://x: not a database address"),
    ],
)
def test_absurd_server_options_are_one_line_each(tmp_path, args, words):
    result = LiveServer(tmp_path / "home", None).admin(*args)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout and len(result.stderr.strip().splitlines()) == 1
