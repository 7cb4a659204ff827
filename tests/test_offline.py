"""With no network, adding and chatting with a local model makes no request beyond this machine."""

from __future__ import annotations

import socket

import pytest

from dataelan_desktop.core.db.tables import MessageStatus
from dataelan_desktop.core.gguf.library import ModelLibrary

LOOPBACK = ("127.", "::1", "localhost")


@pytest.fixture
def no_network(monkeypatch):
    """Any connect to a non-loopback address fails and is recorded (this process; the model host is checked below)."""
    attempts: list = []
    real_connect = socket.socket.connect
    real_create = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def is_local(address) -> bool:
        host = address[0] if isinstance(address, tuple) else str(address)
        return isinstance(host, str) and (host.startswith(LOOPBACK) or host == "")

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address):
            attempts.append(address)
            raise OSError("network blocked by the test")
        return real_connect(self, address)

    def guarded_create(address, *args, **kwargs):
        if not is_local(address):
            attempts.append(address)
            raise OSError("network blocked by the test")
        return real_create(address, *args, **kwargs)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host and not str(host).startswith(LOOPBACK):
            attempts.append(("dns", host))
            raise socket.gaierror("name resolution blocked by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


async def test_offline_local_chat(services, tiny_gguf, no_network):
    library = ModelLibrary(services.db, services.bus)
    library.add(tiny_gguf, name="tiny", copy=True)
    models, errors = await services.registry.list_all_models()
    assert [m.ref for m in models] == ["local:tiny"] and errors == {}
    conversation = await services.chat.start_conversation(model="local:tiny")
    generation = await (await services.chat.send(conversation.id, "Are you there?")).wait()
    await services.registry.aclose()
    assert generation.status == MessageStatus.COMPLETE and generation.text
    assert no_network == []  # not one attempt to reach beyond this machine


def test_the_model_host_process_opens_no_sockets(tiny_gguf, tmp_path):
    """Every process of the app (the CLI and its spawned model host) runs with sockets that refuse to connect."""
    import os

    from tests.support.cli import cli_env, run_cli

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network blocked in every process of this test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
    )
    home = tmp_path / "home"
    env = cli_env(home)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(guard), env["PYTHONPATH"]]
    )  # sitecustomize runs in spawned hosts too
    added = run_cli("models", "add", str(tiny_gguf), "--name", "tiny", env=env)
    assert added.returncode == 0, added.stderr
    result = run_cli("chat", "-m", "local:tiny", "--max-tokens", "5", "hello offline", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
