"""A `dataelan chat` process killed with SIGKILL mid-stream loses nothing.

After every kill, the user's message and the partial reply are in the database, the
reply is marked interrupted, and SQLite's integrity check passes.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.cli import cli_env, popen_cli, run_cli
from tests.support.fake_openai import fake_openai_server, openai_stream
from tests.support.processes import children_of, command_line, wait_gone

KILLS = 20


@pytest.fixture
def slow_server():
    server = fake_openai_server()
    # an endless-looking reply: 400 tokens, one every 10 ms
    server.default = openai_stream([f"word{i} " for i in range(400)], delay=0.01)
    yield server
    server.stop()


def _wait_for_partial_reply(db: Path, prompt: str, timeout: float = 30.0) -> str:
    """Block until the reply to ``prompt`` has been flushed with some text; return that text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                row = con.execute(
                    "SELECT a.content FROM messages a JOIN messages u ON a.parent_id = u.id "
                    "WHERE u.content = ? AND a.role = 'assistant'",
                    (prompt,),
                ).fetchone()
                con.close()
                if row and row[0]:
                    return row[0]
            except sqlite3.OperationalError:
                pass  # the schema is still being created
        time.sleep(0.02)
    raise AssertionError(f"no partial reply to {prompt!r} within {timeout} s")


# twenty CLI starts: about 60 s on a quiet 2-core machine, several minutes on a busy one
@pytest.mark.timeout(900)
def test_sigkill_mid_stream_keeps_messages_and_marks_reply_interrupted(
    data_home: Path, slow_server, memory_keyring
):
    env = cli_env(data_home, OPENAI_API_KEY="sk-crash-test-000", OPENAI_BASE_URL=slow_server.base_url + "/v1")
    db = data_home / "dataelan.sqlite3"
    rng = random.Random(20261124)
    conversation_id = None
    seen: list[str] = []  # what was on disk before each kill
    for attempt in range(KILLS):
        prompt = f"question number {attempt}"
        args = ["chat", "-m", "openai:gpt-4o-mini", prompt]
        if conversation_id:
            args[1:1] = ["--continue", conversation_id]
        process = popen_cli(*args, env=env)
        try:
            seen.append(_wait_for_partial_reply(db, prompt))
            time.sleep(rng.uniform(0.0, 0.5))  # kill at a random point of the stream
            helpers = children_of(process.pid)
            network = [p for p in helpers if "spawn_main" in command_line(p)]  # streaming the reply
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            assert len(network) == 1, [command_line(p) for p in helpers]
            # the network process notices its app is gone and ends: nothing is left running
            assert wait_gone(helpers, timeout=10) == []
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGKILL
        if conversation_id is None:
            listing = run_cli("history", "list", env=env)
            conversation_id = listing.stdout.split()[0]

    # reopening (any command opens the database) recovers the interrupted replies
    shown = run_cli("history", "show", conversation_id, env=env)
    assert shown.returncode == 0, shown.stderr
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        users = [
            r[0] for r in con.execute("SELECT content FROM messages WHERE role='user' ORDER BY created_at")
        ]
        assert users == [f"question number {i}" for i in range(KILLS)]
        replies = con.execute(
            "SELECT a.status, a.content FROM messages a JOIN messages u ON a.parent_id = u.id "
            "WHERE a.role='assistant' ORDER BY u.created_at"
        ).fetchall()
    finally:
        con.close()
    assert len(replies) == KILLS
    assert all(status == "interrupted" for status, _ in replies), replies
    # every reply keeps at least what had been saved before its kill, ungarbled (a flush may land
    # after one token, so how much that is depends on when the kill came)
    full = "".join(f"word{i} " for i in range(400))
    for (_, content), before in zip(replies, seen, strict=True):
        assert content.startswith(before) and full.startswith(content), (before, content)
    assert "interrupted" in shown.stdout and "question number 19" in shown.stdout
    from tests.reliability.tally import TALLY

    TALLY["crashes"] += KILLS
    TALLY["lost"] += KILLS - len(users)
    print(
        f"\ncrash recovery: {KILLS} SIGKILLs survived, {KILLS} user messages and {KILLS} partial replies kept, 0 lost"
    )
