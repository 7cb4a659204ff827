"""`dataelan templates …`, `chat --template` and `compare --template` through the real CLI entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import cli_env, run_cli
from tests.support.fake_openai import openai_stream


def _one_line_error(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def server(server):
    server.default = openai_stream(["Guten ", "Morgen"])
    return server


def test_add_list_show_render_edit_and_remove(data_home: Path, tmp_path: Path):
    env = cli_env(data_home)
    body_file = tmp_path / "body.txt"
    body_file.write_text('Say hello to {{name}} in {{ language | French }}. Keep {"json": true} as is.')
    added = run_cli("templates", "add", "Greeting", "--body-file", str(body_file), "--category", "fun",
                    "--description", "A warm hello", env=env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added template 'Greeting' (variables: name, language='French')" in added.stdout

    listing = run_cli("templates", "list", env=env).stdout
    assert "Greeting" in listing and "Translate" in listing  # the built-ins are there too
    only_fun = run_cli("templates", "list", "--category", "fun", env=env).stdout.splitlines()
    assert len(only_fun) == 1 and only_fun[0].split() == [
        "Greeting",
        "fun",
        "name,",
        "language",
        "A",
        "warm",
        "hello",
    ]
    assert "Greeting" in run_cli("templates", "list", "--search", "hello", env=env).stdout

    shown = run_cli("templates", "show", "greeting", env=env).stdout
    assert "variables: name, language (default 'French')" in shown and "{{name}}" in shown

    rendered = run_cli("templates", "render", "Greeting", "--var", "name=Ana", env=env)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == 'Say hello to Ana in French. Keep {"json": true} as is.\n'
    assert run_cli("templates", "render", "Greeting", "--var", "name=Bo", "--var", "language=Welsh",
                   env=env).stdout.startswith("Say hello to Bo in Welsh.")  # fmt: skip

    edited = run_cli(
        "templates", "edit", "Greeting", "--rename", "Hello", "--system", "Be {{mood|cheerful}}", env=env
    )
    assert edited.returncode == 0 and "updated template 'Hello'" in edited.stdout
    system_shown = run_cli("templates", "render", "Hello", "--var", "name=Cy", env=env)
    assert system_shown.stderr.strip() == "system prompt: Be cheerful"
    assert system_shown.stdout.startswith("Say hello to Cy in French.")

    assert run_cli("templates", "rm", "Hello", env=env).stdout.strip() == "removed template 'Hello'"
    line = _one_line_error(run_cli("templates", "show", "Hello", env=env))
    assert "No template named 'Hello'" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["templates", "render", "Translate", "--var", "language"], "--var takes NAME=VALUE"),
        (["templates", "render", "Translate", "--var", "my-lang=x"], "--var takes NAME=VALUE"),
        (["templates", "render", "Nope"], "No template named 'Nope'"),
        (["templates", "render", "Translate"], "Missing a value for language, input"),
        (
            ["templates", "render", "Translate", "--var", "input=x", "--var", "lang=de"],
            "has no variable lang",
        ),
        (["templates", "add", "Translate", "--body", "x"], "'Translate' already exists"),
        (["templates", "add", "Blank", "--body", "  "], "needs a body"),
        (["chat", "-m", "openai:x", "--template", "Nope", "hi"], "No template named 'Nope'"),
        (["chat", "-m", "openai:x", "--template", "Translate", "hi"], "Missing a value for language"),
        (["chat", "-m", "openai:x", "--template", "Brainstorm", "--var", "topic=x", "hi"], "no {{input}}"),
        (["chat", "-m", "openai:x", "--var", "a=b", "hi"], "add --template NAME"),
        (
            ["compare", "-m", "a:x", "-m", "b:y", "--template", "Translate", "--var", "=x"],
            "--var takes NAME=VALUE",
        ),
    ],
)
def test_bad_template_input_is_one_line_and_exit_1(data_home: Path, args, expected):
    assert expected in _one_line_error(run_cli(*args, env=cli_env(data_home)))


def test_chat_with_a_template_sends_the_rendered_prompt(data_home: Path, server):
    env = cli_env(data_home)
    assert run_cli("providers", "add", "fake", "--base-url", server.base_url + "/v1", env=env).returncode == 0

    result = run_cli("chat", "-m", "fake:m", "--template", "Translate", "--var", "language=German", "good morning",
                     env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Guten Morgen"
    messages = server.posts()[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user"]  # Translate has no system prompt
    assert messages[0]["content"].startswith("Translate the text below into German.")
    assert messages[0]["content"].endswith("\n\ngood morning")

    # a template's system prompt is used; standard input fills {{input}}
    piped = run_cli("chat", "-m", "fake:m", "--template", "summarise", "-", env=env, input="A long story.")
    assert piped.returncode == 0, piped.stderr
    messages = server.posts()[-1].body["messages"]
    assert messages[0] == {"role": "system", "content": "You write faithful, concise summaries."}
    assert "in one short paragraph" in messages[1]["content"] and messages[1]["content"].endswith(
        "A long story."
    )

    # -s wins over the template's system prompt
    run_cli("chat", "-m", "fake:m", "-s", "Pirate voice", "--template", "Summarise", "Text.", env=env)
    assert server.posts()[-1].body["messages"][0] == {"role": "system", "content": "Pirate voice"}


def test_compare_with_a_template_saves_its_name(data_home: Path, server):
    env = cli_env(data_home)
    run_cli("providers", "add", "fake", "--base-url", server.base_url + "/v1", env=env)
    result = run_cli("compare", "-m", "fake:a", "-m", "fake:b", "--template", "Explain simply", "--var", "topic=tides",
                     env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    bodies = [post.body for post in server.posts()]
    assert sorted(b["model"] for b in bodies) == ["a", "b"]
    assert all(
        b["messages"][0]["content"].startswith("Explain tides to a curious 12-year-old.") for b in bodies
    )
    run_id = result.stdout.split("saved as run ")[1].split()[0]
    shown = run_cli("tester", "show", run_id, env=env).stdout
    assert shown.startswith("template: Explain simply\nprompt: Explain tides")
