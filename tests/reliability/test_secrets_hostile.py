"""Keys stay secret even when a server misbehaves or a person writes one into a URL: nothing the CLI
prints, logs or stores holds a planted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.checks import error_line
from tests.reliability.tally import TALLY, plant_key, scan_for_keys
from tests.support.cli import cli_env, run_cli, with_file_keyring
from tests.support.fake_openai import openai_error
from tests.support.sse_server import ScriptedServer


@pytest.fixture
def echoing_server():
    """A server that answers every model listing with a 401 echoing the key it was sent (as some do)."""
    echoed: list[str] = []
    server = ScriptedServer(
        {"/v1/models": lambda: openai_error(401, f"Invalid token: Bearer {echoed[-1]}")}
    ).start()
    server.echoed = echoed
    yield server
    server.stop()


@pytest.mark.parametrize("where", ["keyring", "environment"])
def test_a_key_echoed_by_a_server_is_never_printed(data_home: Path, tmp_path: Path, echoing_server, where):
    key = plant_key()
    echoing_server.echoed.append(key)
    env = with_file_keyring(cli_env(data_home), tmp_path / "keyring.json")
    added = run_cli("providers", "add", "echoer", "--base-url", echoing_server.base_url + "/v1",
                    "--api-key-env", "ECHOER_KEY", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    if where == "keyring":
        assert run_cli("keys", "set", "echoer", env=env, input=key + "\n").returncode == 0
    else:
        env["ECHOER_KEY"] = key
    results = [run_cli("models", "list", env=env), run_cli("models", "list", "echoer", env=env)]
    assert scan_for_keys(data_home, *(r.stdout + r.stderr for r in results)) == []
    for result in results:
        assert result.returncode != 0  # a failed listing is a failure, not exit 0
        assert "echoer" in result.stderr and "Traceback" not in result.stderr
    assert "Bearer [redacted]" in results[1].stderr
    TALLY["faults"] += 2


@pytest.mark.parametrize(
    "url",
    [
        "http://user:{key}@127.0.0.1:11434/v1",
        "https://{key}@example.test/v1",
        "http://127.0.0.1:1/v1?api_key={key}",
    ],
)
def test_a_key_written_into_a_base_url_is_refused(data_home: Path, url):
    key = plant_key()
    env = cli_env(data_home)
    result = run_cli("providers", "add", "leaky", "--base-url", url.format(key=key), env=env)
    line = error_line(result)
    assert "credentials" in line and "--api-key-env" in line
    listed = run_cli("providers", "list", env=env)
    assert "leaky" not in listed.stdout
    assert scan_for_keys(data_home, result.stdout, result.stderr, listed.stdout, listed.stderr) == []
    TALLY["bad_inputs"] += 1


def test_a_url_with_a_password_stored_by_an_older_version_is_not_printed(data_home: Path):
    key = "sk-proj-STOREDBYANOLDERVERSION-1234"  # in the database already (not planted: that scan would fail)
    env = cli_env(data_home)
    assert run_cli("providers", "add", "old", "--base-url", "http://127.0.0.1:1/v1", env=env).returncode == 0
    import sqlite3

    con = sqlite3.connect(data_home / "dataelan.sqlite3")
    con.execute(
        "UPDATE provider_configs SET base_url = ? WHERE name = 'old'", (f"http://bob:{key}@127.0.0.1:1/v1",)
    )
    con.commit()
    con.close()
    listed = run_cli("providers", "list", env=env)
    assert listed.returncode == 0 and "http://[redacted]@127.0.0.1:1/v1" in listed.stdout
    assert key not in listed.stdout + listed.stderr
    assert all(key not in p.read_text() for p in (data_home / "logs").iterdir())
    TALLY["bad_inputs"] += 1
