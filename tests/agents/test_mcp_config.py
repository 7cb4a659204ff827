"""MCP server settings: Claude Desktop's config file, our checks, the store, secrets in the keyring."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dataelan_desktop.core.agents.mcp.config import HTTP, STDIO, McpConfigError, McpServerConfig
from dataelan_desktop.core.agents.mcp.parse import parse_config_text, read_config_file
from dataelan_desktop.core.agents.mcp.store import McpServerStore, secret_key
from dataelan_desktop.core.changes import Changes
from dataelan_desktop.core.secrets import SERVICE

CLAUDE = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/Desktop"],
        },
        "github": {
            "command": "docker",
            "args": ["run", "-i", "--rm", "ghcr.io/github/github-mcp-server"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secretvalue123", "GITHUB_HOST": "github.com"},
        },
        "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer abcdef123456"}},
    }
}


@pytest.fixture
def store(services) -> McpServerStore:
    return services.mcp.store


def test_claude_desktop_config_is_read_with_secrets_apart():
    parsed = parse_config_text(json.dumps(CLAUDE), "claude_desktop_config.json")
    assert parsed.problems == []
    by_name = {s.config.name: s for s in parsed.servers}
    fs = by_name["filesystem"].config
    assert fs.transport == STDIO and fs.command == "npx" and fs.args[-1] == "/home/me/Desktop"
    github = by_name["github"]
    assert github.config.env == {"GITHUB_HOST": "github.com"}  # a plain value stays plain
    assert github.config.secret_env == {"GITHUB_PERSONAL_ACCESS_TOKEN"}
    assert github.secrets == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_secretvalue123"}
    remote = by_name["remote"]
    assert remote.config.transport == HTTP and remote.config.url == "https://mcp.example.com/mcp"
    assert remote.config.headers == {} and remote.secrets == {"Authorization": "Bearer abcdef123456"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "claude_desktop_config.json is not valid JSON (line 1, column 2"),
        ("[]", 'claude_desktop_config.json has no "mcpServers" object'),
        ('{"mcpServers": []}', 'claude_desktop_config.json has no "mcpServers" object'),
    ],
)
def test_a_malformed_file_is_one_clear_message(text, message):
    with pytest.raises(McpConfigError) as caught:
        parse_config_text(text, "claude_desktop_config.json")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_each_bad_entry_is_one_problem_and_the_good_ones_are_kept():
    servers = {
        "good": {"command": "uvx", "args": ["mcp-server-time"]},
        "neither": {"args": ["x"]},
        "both": {"command": "x", "url": "http://127.0.0.1/mcp"},
        "args-not-list": {"command": "x", "args": "--flag"},
        "env-not-object": {"command": "x", "env": ["A=1"]},
        "bad-url": {"url": "ftp://example.com"},
        "old-sse": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
        "creds-in-url": {"url": "https://me:pw@example.com/mcp"},
        "not-an-object": "npx server",
        "empty-command": {"command": "  "},
    }
    parsed = parse_config_text(json.dumps({"mcpServers": servers}), "cfg.json")
    assert [s.config.name for s in parsed.servers] == ["good"]
    assert len(parsed.problems) == len(servers) - 1
    text = "\n".join(parsed.problems)
    for expected in (
        "cfg.json: the server 'neither' has neither a command nor a url.",
        "the server 'both' has both a command and a url",
        "the server 'args-not-list' has args that are not a list of strings",
        "the server 'env-not-object' has env that is not an object",
        "the MCP server 'bad-url' has the URL 'ftp://example.com', which is not an http(s) URL",
        "uses the old SSE transport",
        "has credentials written into it",
        "the server 'not-an-object' is not an object",
        "the server 'empty-command' has a command that is not a non-empty string",
    ):
        assert expected in text


def test_reading_a_file_that_is_missing_or_not_text(tmp_path: Path):
    with pytest.raises(McpConfigError, match="does not exist"):
        read_config_file(tmp_path / "nope.json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(McpConfigError, match="is not a text"):
        read_config_file(binary)


def test_saving_keeps_secret_values_in_the_keyring_only(services, store, memory_keyring):
    seen: list[Changes] = []
    services.bus.subscribe(seen.append)
    config = McpServerConfig(
        "github", STDIO, command="docker", args=("run", "-i"), env={"GITHUB_HOST": "github.com"},
        secret_env=frozenset({"GITHUB_TOKEN"}),
    )  # fmt: skip
    assert store.save(config, {"GITHUB_TOKEN": "ghp_topsecret999"}) is True
    assert any(c.mcp_servers for c in seen)
    assert (
        memory_keyring.get_password(SERVICE, secret_key("github", "env", "GITHUB_TOKEN"))
        == "ghp_topsecret999"
    )
    # the database file holds the name, never the value
    services.db.close()
    raw = b"".join(p.read_bytes() for p in services.db.path.parent.glob("dataelan.sqlite3*"))
    assert b"GITHUB_TOKEN" in raw and b"ghp_topsecret999" not in raw


def test_resolve_reads_secrets_back_and_says_when_one_is_missing(store, memory_keyring):
    config = McpServerConfig("svc", STDIO, command="x", secret_env=frozenset({"API_KEY"}))
    store.save(config, {"API_KEY": "k-123456789"})
    resolved = store.resolve(store.get("svc"))
    assert resolved.env == {"API_KEY": "k-123456789"}
    memory_keyring.delete_password(SERVICE, secret_key("svc", "env", "API_KEY"))
    with pytest.raises(
        McpConfigError, match="The secret API_KEY of the MCP server 'svc' is not in the keyring"
    ):
        store.resolve(store.get("svc"))


def test_a_new_secret_needs_a_value(store):
    config = McpServerConfig("svc", STDIO, command="x", secret_env=frozenset({"API_KEY"}))
    with pytest.raises(McpConfigError, match="Give a value for the secret API_KEY"):
        store.save(config)
    assert store.list() == []


def test_editing_keeps_a_secret_left_empty_and_forgets_one_removed(store, memory_keyring):
    config = McpServerConfig("svc", STDIO, command="x", secret_env=frozenset({"A_TOKEN", "B_TOKEN"}))
    store.save(config, {"A_TOKEN": "aaaaaaaa", "B_TOKEN": "bbbbbbbb"})
    assert store.save(McpServerConfig("svc", STDIO, command="y", secret_env=frozenset({"A_TOKEN"}))) is False
    assert store.get("svc").command == "y"
    assert store.resolve(store.get("svc")).env == {"A_TOKEN": "aaaaaaaa"}
    assert memory_keyring.get_password(SERVICE, secret_key("svc", "env", "B_TOKEN")) is None


def test_remove_deletes_the_row_and_its_secrets(store, memory_keyring):
    store.save(McpServerConfig("svc", HTTP, url="http://127.0.0.1:9/mcp", secret_headers=frozenset({"Authorization"})),
               {"Authorization": "Bearer xyzxyzxyz"})  # fmt: skip
    assert store.remove("SVC") is True  # names are matched without case
    assert store.list() == []
    assert memory_keyring.get_password(SERVICE, secret_key("svc", "header", "Authorization")) is None
    assert store.remove("svc") is False


def test_enable_and_disable(store):
    store.save(McpServerConfig("svc", STDIO, command="x"))
    assert store.set_enabled("svc", False).enabled is False
    assert store.get("svc").enabled is False
    with pytest.raises(LookupError, match="no MCP server named 'nope'"):
        store.set_enabled("nope", True)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (McpServerConfig("", STDIO, command="x"), "needs a name"),
        (McpServerConfig("a b", STDIO, command="x"), "cannot name an MCP server"),
        (McpServerConfig("svc", STDIO, command=""), "needs a command"),
        (McpServerConfig("svc", HTTP, url="localhost:8000"), "is not an http(s) URL"),
        (McpServerConfig("svc", STDIO, command="x", env={"1BAD": "v"}), "not a valid name"),
        (McpServerConfig("svc", STDIO, command="x", timeout=0), "timeout between 0 and 3600"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(store, config, message):
    with pytest.raises(McpConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.save(config)


def test_import_claude_config_adds_new_servers_and_skips_taken_names(store, tmp_path: Path, memory_keyring):
    store.save(McpServerConfig("filesystem", STDIO, command="my-own-fs"))
    servers = dict(CLAUDE["mcpServers"])
    servers["broken"] = {"args": []}
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    result = store.import_file(path)
    assert result.added == ["github", "remote"]
    assert result.skipped == ["filesystem"]
    assert result.problems == [
        "claude_desktop_config.json: the server 'broken' has neither a command nor a url."
    ]
    assert store.get("filesystem").command == "my-own-fs"  # kept as it was
    assert store.resolve(store.get("github")).env["GITHUB_PERSONAL_ACCESS_TOKEN"] == "ghp_secretvalue123"
    assert store.resolve(store.get("remote")).headers == {"Authorization": "Bearer abcdef123456"}


def test_the_table_comes_from_the_migration(services):
    con = sqlite3.connect(services.db.path)
    try:
        columns = {row[1] for row in con.execute("PRAGMA table_info(mcp_servers)")}
    finally:
        con.close()
    expected = "name transport command args env secret_env cwd url headers secret_headers enabled timeout"
    assert set(expected.split()) <= columns
