"""Every CLI failure is one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataelan_desktop import __version__
from tests.support.cli import cli_env, run_cli, with_file_keyring


def _one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version(data_home: Path):
    result = run_cli("--version", env=cli_env(data_home))
    assert result.returncode == 0 and result.stdout.strip() == f"dataelan {__version__}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["chat", "-m", "gpt4", "hi"], "is not a model"),
        (["chat", "-m", "nosuch:model", "hi"], "Unknown provider 'nosuch'"),
        (["chat", "-m", "openai:gpt-4o-mini", "hi"], "No API key for openai"),
        (["chat", "-m", "anthropic:claude-x", "hi"], "ANTHROPIC_API_KEY"),
        (["chat", "hi"], "choose a model"),
        (["chat", "-m", "openai:x", "--temperature", "9", "hi"], "temperature"),
        (["chat", "--bogus", "hi"], "unrecognized arguments"),
        (["history", "show", "no-such-id"], "No conversation"),
        (["providers", "add", "ollama", "--base-url", "not a url"], "not an http(s) URL"),
        (["providers", "add", "local", "--base-url", "http://127.0.0.1:1/v1"], "reserved"),
        (["providers", "rm", "nothing"], "no provider named"),
    ],
)
def test_bad_input_gives_one_clear_line(data_home: Path, args, expected):
    line = _one_line_error(run_cli(*args, env=cli_env(data_home)))
    assert expected in line


def test_empty_prompt_from_stdin_is_refused(data_home: Path):
    line = _one_line_error(run_cli("chat", "-m", "openai:x", "-", env=cli_env(data_home), input="  \n"))
    assert "empty" in line


def test_unreachable_server_is_one_line_and_the_message_is_kept(data_home: Path, tmp_path: Path):
    env = cli_env(data_home)
    assert (
        run_cli("providers", "add", "deadbox", "--base-url", "http://127.0.0.1:9/v1", env=env).returncode == 0
    )
    result = run_cli("chat", "-m", "deadbox:some-model", "are you there?", env=env)
    line = _one_line_error(result)
    assert "127.0.0.1:9" in line
    listing = run_cli("history", "list", env=env)
    conversation_id = listing.stdout.split()[0]
    shown = run_cli("history", "show", conversation_id, env=env).stdout
    assert "are you there?" in shown and "failed" in shown


def test_providers_add_and_list(data_home: Path):
    env = cli_env(data_home)
    added = run_cli("providers", "add", "Ollama", "--base-url", "http://127.0.0.1:11434/v1/", env=env)
    assert added.returncode == 0 and "added provider ollama" in added.stdout
    listing = run_cli("providers", "list", env=env).stdout
    assert "ollama" in listing and "http://127.0.0.1:11434/v1" in listing and "local" in listing


def test_keys_without_a_keyring_say_what_to_do(data_home: Path):
    env = cli_env(data_home, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    line = _one_line_error(run_cli("keys", "set", "openai", env=env, input="sk-test-123456\n"))
    assert "no system keyring" in line and "OPENAI_API_KEY" in line


def test_keys_set_stores_in_the_keyring(data_home: Path, tmp_path: Path):
    keyring_file = tmp_path / "keyring.json"
    env = with_file_keyring(cli_env(data_home), keyring_file)
    result = run_cli("keys", "set", "openai", env=env, input="sk-secret-abcdef\n")
    assert result.returncode == 0, result.stderr
    assert "sk-secret-abcdef" in keyring_file.read_text()
    assert "sk-secret" not in result.stdout + result.stderr
    status = run_cli("keys", "status", env=env).stdout
    assert "openai" in status and "key set" in status and "sk-secret" not in status
