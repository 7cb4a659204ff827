"""A key written through the CLI reaches the keyring and nothing else on disk."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import cli_env, run_cli, with_file_keyring
from tests.support.fake_openai import fake_openai_server, openai_error, openai_stream

KEY = "sk-proj-LEAKCANARY-7f3a9c1e5b"


def _files_containing(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_key_never_reaches_database_logs_or_output(data_home: Path, tmp_path: Path):
    server = fake_openai_server()
    try:
        server.push(
            openai_stream(["The ", "answer."]), openai_error(401, "Incorrect API key provided: " + KEY)
        )
        keyring_file = tmp_path / "keyring.json"
        env = with_file_keyring(cli_env(data_home, OPENAI_BASE_URL=server.base_url + "/v1"), keyring_file)

        stored = run_cli("keys", "set", "openai", env=env, input=KEY + "\n")
        assert stored.returncode == 0, stored.stderr
        chat = run_cli("chat", "-m", "openai:gpt-4o-mini", "what is the answer?", env=env)
        assert chat.returncode == 0, chat.stderr
        assert chat.stdout.strip() == "The answer."
        # the server received the key: it really was used
        assert server.posts()[0].headers["authorization"] == f"Bearer {KEY}"
        # a provider error that echoes the key back is still scrubbed before it is shown or saved
        failed = run_cli("chat", "-m", "openai:gpt-4o-mini", "again", env=env)
        assert failed.returncode == 1
        conversation_id = run_cli("history", "list", env=env).stdout.split()[0]
        shown = run_cli("history", "show", conversation_id, env=env)
        outputs = [stored, chat, failed, shown]
    finally:
        server.stop()

    assert KEY in keyring_file.read_text()  # the keyring has it ...
    assert _files_containing(data_home, KEY.encode()) == []  # ... the database, WAL, logs, backups do not
    assert (data_home / "logs" / "dataelan.log").exists()
    for result in outputs:
        assert KEY not in result.stdout and KEY not in result.stderr
