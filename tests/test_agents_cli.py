"""`dataelan agents ...` and `dataelan chat --tools/--agent/--yes`, run as a person would, against a
loopback server speaking OpenAI's wire format."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO, cli_env, run_cli
from tests.support.fake_openai import openai_stream
from tests.support.fake_tools import checked_openai, openai_tool_calls


@pytest.fixture
def env(data_home: Path, server):
    return cli_env(data_home, OPENAI_API_KEY="sk-cli-agents-1", OPENAI_BASE_URL=server.base_url + "/v1")


def one_line_error(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_agents_are_added_listed_shown_and_removed(env, tmp_path):
    added = run_cli("agents", "add", "Helper", "-m", "openai:gpt-4o-mini", "--tools", f"calc,files:{tmp_path}",
                    "--ask", "read_file", "--max-steps", "7", "-i", "Be brief.", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = run_cli("agents", "list", env=env).stdout
    assert "Helper\topenai:gpt-4o-mini\tcalc, files:" in listed
    shown = run_cli("agents", "show", "helper", env=env).stdout
    assert "approvals:    read_file=ask" in shown and "max_steps=7" in shown and "Be brief." in shown
    assert "already exists" in one_line_error(run_cli("agents", "add", "HELPER", env=env))
    assert "Unknown tool 'calculator2'" in one_line_error(
        run_cli("agents", "add", "X", "--tools", "calculator2", env=env)
    )
    assert "above zero" in one_line_error(run_cli("agents", "add", "X", "--max-steps", "0", env=env))
    for flag, absurd in (("--tool-timeout", "nan"), ("--total-time", "inf"), ("--max-cost", "-inf")):
        said = one_line_error(run_cli("agents", "add", "X", f"{flag}={absurd}", env=env))
        assert "must be a number above zero" in said, said  # (nan would have passed "> 0" and been kept)
    assert "No agent named 'X'" in one_line_error(run_cli("agents", "show", "X", env=env))
    assert run_cli("agents", "rm", "Helper", env=env).returncode == 0
    assert "No agent named 'Helper'" in one_line_error(run_cli("agents", "show", "Helper", env=env))


def test_chat_with_tools_runs_calls_and_prints_the_answer(env, server):
    server.push(
        openai_tool_calls([("call_1", "calculator", '{"expression": "6*7"}')]),
        checked_openai(openai_stream(["It is ", "42."])),
    )
    result = run_cli("chat", "-m", "openai:gpt-4o-mini", "--tools", "calc", "What is 6*7?", env=env, input="")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "It is 42.\n"
    assert '→ calculator {"expression": "6*7"}' in result.stderr and "← 42" in result.stderr
    assert "policy" in result.stderr


def test_a_runs_own_limit_stops_a_model_that_keeps_calling(env, server):
    """`chat --tools … --max-steps 2`: a model that would call the calculator for ever is stopped after
    two tool steps with the limit's sentence, and what it did is kept; a mistyped limit is one line."""
    server.push(
        *(openai_tool_calls([(f"call_{i}", "calculator", '{"expression": "1+1"}')]) for i in range(5))
    )
    result = run_cli(
        "chat", "-m", "openai:gpt-4o-mini", "--tools", "calc", "--max-steps", "2", "Count.", env=env, input=""
    )  # fmt: skip
    assert "Stopped after 2 tool steps: the agent's limit is 2." in result.stderr, result.stderr
    assert result.stderr.count("← 2") == 2  # both calls ran and were answered
    assert len(server.requests) == 2  # no third turn was asked for
    conversation_id = run_cli("history", "list", env=env).stdout.split()[0]
    shown = run_cli("history", "show", conversation_id, env=env)
    # each call and its answer, named, as the chat printed them
    assert shown.stdout.count('→ calculator {"expression": "1+1"}') == 2, shown.stdout
    assert shown.stdout.count("[tool calculator] (") == 2, shown.stdout

    # a cost limit on a model with no known price cannot stop anything: said before the run
    server.push(openai_stream(["ok"]))
    unpriced = run_cli(
        "chat", "-m", "openai:my-own-model", "--tools", "calc", "--max-cost", "0.01", "hi", env=env, input=""
    )  # fmt: skip
    assert unpriced.returncode == 0, unpriced.stderr
    expected = "note: The cost limit ($0.01) cannot stop this run: no price is known for openai:my-own-model"
    assert expected in unpriced.stderr
    server.push(openai_stream(["ok"]))
    priced = run_cli(
        "chat", "-m", "openai:gpt-4o-mini", "--tools", "calc", "--max-cost", "0.01", "hi", env=env, input=""
    )  # fmt: skip
    assert priced.returncode == 0 and "cost limit" not in priced.stderr

    bad = run_cli(
        "chat", "-m", "openai:gpt-4o-mini", "--tools", "calc", "--tool-timeout", "nan", "x", env=env
    )
    assert "above zero" in one_line_error(bad)


def test_approvals_without_a_terminal_need_yes(env, server, tmp_path):
    asks = ["chat", "-m", "openai:gpt-4o-mini", "--tools", f"files:{tmp_path}", "Write a.txt"]
    refused = run_cli(*asks, env=env, input="")
    assert "write_file would ask for your approval" in one_line_error(refused) and "--yes" in refused.stderr
    assert not server.posts()  # refused before anything was sent (or saved)
    assert run_cli("history", "list", env=env).stdout.startswith("no conversations yet")  # nothing saved

    server.push(
        openai_tool_calls([("w", "write_file", '{"path": "a.txt", "content": "hello"}')]),
        checked_openai(openai_stream(["Written."])),
    )
    allowed = run_cli(*asks, "--yes", env=env, input="")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "a.txt").read_text() == "hello" and allowed.stdout == "Written.\n"


def test_the_terminal_asks_and_a_denial_is_sent_as_an_error(env, server, tmp_path):
    server.push(
        openai_tool_calls([("w", "write_file", '{"path": "a.txt", "content": "hello"}')]),
        checked_openai(openai_stream(["OK, not written."])),
    )
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dataelan_desktop.cli.main", "chat", "-m", "openai:gpt-4o-mini",
         "--tools", f"files:{tmp_path}", "Write a.txt"],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO, text=True,
    )  # fmt: skip
    os.close(terminal)
    try:
        os.write(controller, b"n\n")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "The model wants to run write_file (builtin) with:" in stderr and '"content": "hello"' in stderr
    assert "✗ The person denied this call." in stderr and stdout == "OK, not written.\n"
    assert not (tmp_path / "a.txt").exists()
    assert server.posts()[1].body["messages"][-1]["content"] == "Error: The person denied this call."


def test_chat_with_a_saved_agent_uses_its_model_and_instructions(env, server):
    assert (
        run_cli(
            "agents", "add", "Math", "-m", "openai:gpt-4o", "--tools", "calc", "-i", "Show work.", env=env
        ).returncode
        == 0
    )
    server.push(openai_stream(["Four."]))
    result = run_cli("chat", "--agent", "math", "2+2?", env=env, input="")
    assert result.returncode == 0, result.stderr
    body = server.posts()[0].body
    assert body["model"] == "gpt-4o" and body["messages"][0] == {"role": "system", "content": "Show work."}
    assert [t["function"]["name"] for t in body["tools"]] == ["calculator"]
    conversation_id = result.stderr.split("[conversation ")[1].split("]")[0]
    server.push(openai_stream(["Eight."]))
    again = run_cli("chat", "--continue", conversation_id, "Doubled?", env=env, input="")
    assert again.returncode == 0 and again.stdout == "Eight.\n", again.stderr
    assert [t["function"]["name"] for t in server.posts()[1].body["tools"]] == [
        "calculator"
    ]  # its agent again
    assert "No agent named 'Nobody'" in one_line_error(
        run_cli("chat", "--agent", "Nobody", "hi", env=env, input="")
    )


def test_a_projects_agent_answers_its_new_conversations(env, server):
    assert run_cli("agents", "add", "Math", "-m", "openai:gpt-4o", "--tools", "calc", env=env).returncode == 0
    assert "no project named 'Maths'" in one_line_error(
        run_cli("agents", "use", "Math", "--project", "Maths", env=env)
    )
    server.push(openai_stream(["Made."]))
    assert (
        run_cli(
            "chat", "-m", "openai:gpt-4o-mini", "--project", "Maths", "hello", env=env, input=""
        ).returncode
        == 0
    )
    assert "tools" not in server.posts()[0].body  # no agent in the project yet
    used = run_cli("agents", "use", "Math", "--project", "Maths", env=env)
    assert used.returncode == 0 and "answer with the agent 'Math'" in used.stdout, used.stderr
    server.push(openai_stream(["Four."]))
    result = run_cli("chat", "--project", "Maths", "2+2?", env=env, input="")
    assert result.returncode == 0, result.stderr
    body = server.posts()[1].body
    assert body["model"] == "gpt-4o" and [t["function"]["name"] for t in body["tools"]] == ["calculator"]
    assert run_cli("agents", "use", "--none", "--project", "Maths", env=env).returncode == 0
    server.push(openai_stream(["Plain."]))
    assert (
        run_cli("chat", "--project", "Maths", "-m", "openai:gpt-4o-mini", "hi", env=env, input="").returncode
        == 0
    )
    assert "tools" not in server.posts()[2].body
