"""`dataelan mcp ...` as a person runs it: the real command in a subprocess, the SDK's server behind it."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.agents.mcp_support import SERVER
from tests.support.cli import cli_env, run_cli, with_file_keyring

pytestmark = pytest.mark.timeout(300)  # a dozen CLI processes each; a busy machine slows every start


@pytest.fixture
def env(data_home: Path, tmp_path: Path) -> dict[str, str]:
    return with_file_keyring(cli_env(data_home), tmp_path / "keyring.json")


def test_add_list_tools_call_and_remove(env, data_home: Path, tmp_path: Path):
    added = run_cli(
        "mcp", "add", "calc", "--env", "PLAIN_SETTING=one", "--env", "TEST_API_TOKEN=tok-0123456789",
        "--", sys.executable, str(SERVER), env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "note: TEST_API_TOKEN looks like a secret; it is kept in the keyring" in added.stdout
    listed = run_cli("mcp", "list", env=env)
    assert listed.stdout.startswith("calc ") and "secrets: TEST_API_TOKEN" in listed.stdout
    assert "tok-0123456789" not in listed.stdout
    # the value is in the keyring's file, only the name in the database
    assert "tok-0123456789" in (tmp_path / "keyring.json").read_text()
    con = sqlite3.connect(data_home / "dataelan.sqlite3")
    assert "tok-0123456789" not in json.dumps(con.execute("SELECT * FROM mcp_servers").fetchall())
    con.close()

    tools = run_cli("mcp", "tools", env=env)
    assert tools.returncode == 0, tools.stderr
    assert tools.stdout.startswith("calc: ready (")
    assert (
        "  add                      Add two integers.  [title=Add two numbers, readOnlyHint=True]"
        in tools.stdout
    )

    called = run_cli("mcp", "call", "calc", "env", '{"name": "TEST_API_TOKEN"}', env=env)
    # the server got the secret and echoed it back; the CLI never prints a secret it knows
    assert (called.returncode, called.stdout) == (0, "[redacted]\n")
    failed = run_cli("mcp", "call", "calc", "boom", env=env)
    assert failed.returncode == 1 and failed.stderr == "error: Error executing tool boom\n"
    hung = run_cli("mcp", "call", "calc", "hang", "--timeout", "1", env=env)
    assert hung.returncode == 1
    assert (
        hung.stderr
        == "error: The tool 'hang' of the MCP server 'calc' did not answer within 1 s; the call was cancelled.\n"
    )

    assert run_cli("mcp", "rm", "calc", env=env).stdout == "removed the MCP server calc and its secrets\n"
    assert "tok-0123456789" not in (tmp_path / "keyring.json").read_text()
    assert run_cli("mcp", "list", env=env).stdout.startswith("no MCP servers yet")


def test_a_server_that_cannot_start_is_reported_per_server(env):
    run_cli("mcp", "add", "calc", "--", sys.executable, str(SERVER), env=env)
    run_cli("mcp", "add", "ghost", "--", "no-such-mcp-server-xyz", env=env)
    tools = run_cli("mcp", "tools", env=env)
    assert tools.returncode == 1
    assert tools.stdout.startswith("calc: ready (")
    assert (
        "ghost: failed: The command 'no-such-mcp-server-xyz' was not found; install it or give its full path."
        in tools.stdout
    )
    assert "Traceback" not in tools.stderr


def test_import_claude_config(env, tmp_path: Path):
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps({"mcpServers": {
        "calc": {"command": sys.executable, "args": [str(SERVER)], "env": {"SERVICE_API_KEY": "key-abcdefgh"}},
        "remote": {"url": "http://127.0.0.1:9/mcp"},
        "broken": {"args": ["x"]},
    }}))  # fmt: skip
    imported = run_cli("mcp", "import-claude", str(config), env=env)
    assert imported.returncode == 1  # one entry could not be read: said, the others added
    assert imported.stdout == "added calc\nadded remote\n"
    assert imported.stderr == (
        "error: claude_desktop_config.json: the server 'broken' has neither a command nor a url.\n"
    )
    again = run_cli("mcp", "import-claude", str(config), env=env)
    assert "skipped calc: a server of that name exists already" in again.stdout
    assert "key-abcdefgh" in (tmp_path / "keyring.json").read_text()
    called = run_cli("mcp", "call", "calc", "env", '{"name": "SERVICE_API_KEY"}', env=env)
    assert called.stdout == "[redacted]\n"  # the server had the key (and the CLI does not print it)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("mcp", "import-claude", "{file}"),
            "error: claude_desktop_config.json is not valid JSON (line 1, column 2: ",
        ),
        (("mcp", "add", "x"), "error: give either a command (after --) or --url"),
        (("mcp", "add", "x", "--env", "A=1", "ls"), "error: put -- before the server's command"),
        (("mcp", "add", "bad name", "--", "ls"), "error: 'bad name' cannot name an MCP server"),
        (("mcp", "call", "nope", "add"), "error: There is no MCP server named 'nope'"),
        (("mcp", "import-claude", "{missing}"), "error: "),
    ],
)
def test_bad_input_is_one_line(env, tmp_path: Path, args, message):
    bad = tmp_path / "claude_desktop_config.json"
    bad.write_text("{oops")
    args = [a.format(file=bad, missing=tmp_path / "missing.json") for a in args]
    result = run_cli(*args, env=env)
    assert result.returncode != 0
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_chat_with_an_mcp_server_as_tools(data_home: Path, tmp_path: Path, server):
    """`chat --tools mcp:NAME`: the server's tools go to the model, its call runs on the server, the
    answer goes back, as the fake API checks (every call answered)."""
    from tests.support.fake_openai import openai_stream
    from tests.support.fake_tools import checked_openai, openai_tool_calls

    env = with_file_keyring(
        cli_env(data_home, OPENAI_API_KEY="sk-cli-mcp-1", OPENAI_BASE_URL=server.base_url + "/v1"),
        tmp_path / "keyring.json",
    )
    assert run_cli("mcp", "add", "calc", "--", sys.executable, str(SERVER), env=env).returncode == 0
    server.push(
        openai_tool_calls([("call_1", "add", '{"a": 2, "b": 40}')]),
        checked_openai(openai_stream(["It is ", "42."])),
    )
    asks = ["chat", "-m", "openai:gpt-4o-mini", "--tools", "mcp:calc", "What is 2+40?"]
    refused = run_cli(*asks, env=env, input="")  # an MCP tool asks first: without a terminal, --yes
    assert refused.returncode != 0 and "--yes" in refused.stderr
    result = run_cli(*asks, "--yes", env=env, input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "It is 42.\n"
    first, second = server.posts()[-2:]
    offered = {t["function"]["name"] for t in first.body["tools"]}
    assert {"add", "echo", "hang"} <= offered
    assert second.body["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
