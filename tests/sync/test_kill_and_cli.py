"""The server SIGKILLed inside a push: nothing lost, nothing twice. The CLI, end to end."""

from __future__ import annotations

import json
import threading

import pytest

from dataelan_desktop.core.providers.reply import Reply
from dataelan_desktop.core.sync.client import ServerUnavailableError
from tests.server.live import LiveServer
from tests.support.cli import cli_env, run_cli, with_file_keyring

from .conftest import PASSWORD, Device, add_user


@pytest.fixture
def faulty(tmp_path, backend):
    server = LiveServer(tmp_path / "server-home", backend)
    yield server
    server.stop()


def test_server_killed_in_the_middle_of_a_push_loses_and_doubles_nothing(faulty, devices):
    a, b = devices
    faulty.start(DATAELAN_SERVER_FAULT="pause-push-before-commit")
    user = add_user(faulty)
    a.engine.login(faulty.url, user, PASSWORD, "A")
    conv = a.store.create_conversation(title="through a crash")
    parent = None
    for i in range(60):
        parent = a.store.add_user_message(conv.id, f"line {i}", [], "m:x", parent_id=parent)
    failure: list[Exception] = []

    def sync():
        try:
            a.engine.sync_now()
        except ServerUnavailableError as err:
            failure.append(err)

    worker = threading.Thread(target=sync)
    worker.start()
    assert faulty.wait_for_log("fault: push paused before commit"), "the push never reached its commit"
    waiting = a.engine.status().pending
    faulty.kill()
    worker.join(timeout=60)
    assert failure and "your changes are kept" in str(failure[0])
    assert a.engine.status().pending == waiting > 60  # nothing was taken off the outbox
    faulty.start()
    a.engine.sync_now()
    assert a.engine.status().pending == 0
    b.engine.login(faulty.url, user, PASSWORD, "B")
    b.engine.sync_now()
    assert [m.content for m in b.store.messages(conv.id)] == [f"line {i}" for i in range(60)]
    fresh = Device(faulty.home / "fresh")  # what a new device gets: each message once
    try:
        fresh.engine.login(faulty.url, user, PASSWORD, "C")
        fresh.engine.sync_now()
        assert fresh.store.message_count() == 60
    finally:
        fresh.close()


def test_cli_login_status_now_and_logout(tmp_path, live, user, devices, backend):
    if backend.startswith("postgresql"):  # ~10 CLI processes; the client's path is the same on both
        pytest.skip("the CLI end to end runs against the SQLite server; PostgreSQL adds nothing to it")
    env = with_file_keyring(cli_env(tmp_path / "cli-home"), tmp_path / "keyring.json")
    add = run_cli("templates", "add", "Haiku", "--body", "A haiku about {{topic}}", env=env)
    assert add.returncode == 0, add.stderr
    login = run_cli("sync", "login", live.url, "--user", user, "--device-name", "cli box", "--password-stdin",
                    env=env, input=PASSWORD + "\n")  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert f"Signed in to {live.url} as {user} (this device: cli box)." in login.stdout
    assert "sent" in login.stdout
    status = run_cli("sync", "status", env=env)
    assert "Changes waiting: 0" in status.stdout and "Last sync:       never" not in status.stdout
    assert PASSWORD not in status.stdout + login.stdout + login.stderr
    stored = json.loads((tmp_path / "keyring.json").read_text())
    token = next(v for k, v in stored.items() if "/sync-token-" in k)  # the token is in the keyring...
    home = tmp_path / "cli-home"
    for path in [*home.glob("dataelan.sqlite3*"), *home.rglob("*.log*")]:  # ...and nowhere else
        assert token.encode() not in path.read_bytes() and PASSWORD.encode() not in path.read_bytes(), path

    a, _b = devices
    a.engine.login(live.url, user, PASSWORD, "A")
    a.engine.sync_now()
    assert "Haiku" in [t.name for t in a.services.templates.list()]
    conv = a.store.create_conversation(title="made on A")
    q = a.store.add_user_message(conv.id, "hi from A", [], "m:x")
    r = a.store.begin_reply(conv.id, q, "m:x", "host:1")
    a.store.finish_reply(r, Reply("m:x", "hello", "complete"), q)
    a.engine.sync_now()
    now = run_cli("sync", "now", env=env)
    assert now.returncode == 0 and "received" in now.stdout
    shown = run_cli("history", "list", env=env)
    assert "made on A" in shown.stdout, shown.stdout + shown.stderr

    wrong = run_cli(
        "sync", "login", live.url, "--user", user, "--password-stdin", env=env, input="nope nope\n"
    )
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr and wrong.stderr.count("\n") == 1
    out = run_cli("sync", "logout", env=env)
    assert out.returncode == 0 and "Signed out" in out.stdout
    assert "Not signed in." in run_cli("sync", "status", env=env).stdout
    again = run_cli("sync", "now", env=env)
    assert again.returncode == 1 and "sync login" in again.stderr


def test_background_sync_retries_while_the_server_is_down_and_sends_when_it_is_back(faulty, devices):
    import time

    from dataelan_desktop.core.sync.runner import SyncRunner

    a, b = devices
    faulty.start()
    user = add_user(faulty)
    a.engine.login(faulty.url, user, PASSWORD, "A")
    runner = SyncRunner(a.engine, a.services.bus)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while a.engine.status().last_sync_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        faulty.stop()
        conv = a.store.create_conversation(title="written while the server was down")  # wakes the runner
        deadline = time.monotonic() + 30
        while (
            "your changes are kept" not in (a.engine.status().last_error or "")
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert "your changes are kept" in a.engine.status().last_error and a.engine.status().pending > 0
        faulty.start()  # same address; nobody presses anything: the backoff's next try sends it
        deadline = time.monotonic() + 60
        while (a.engine.status().pending or a.engine.status().last_error) and time.monotonic() < deadline:
            time.sleep(0.1)  # sent, then the round's pull ends it and clears the error
        assert a.engine.status().pending == 0 and a.engine.status().last_error is None
    finally:
        runner.stop()
    b.engine.login(faulty.url, user, PASSWORD, "B")
    b.engine.sync_now()
    assert b.store.conversation(conv.id).title == "written while the server was down"
