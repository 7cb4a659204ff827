"""Bad command-line input (bytes that are not UTF-8, broken batch files, checks that cannot work) is refused
in one line before anything is saved or any model is asked."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.checks import error_line
from tests.reliability.tally import TALLY
from tests.support.cli import REPO, cli_env, run_cli
from tests.support.fake_openai import openai_stream


def run_bytes(
    *args: bytes, env: dict[str, str], stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI with raw bytes for arguments, as a shell passes them."""
    done = subprocess.run([sys.executable.encode(), b"-m", b"dataelan_desktop.cli.main", *args], env=env,
                          input=stdin, capture_output=True, timeout=120, cwd=REPO)  # fmt: skip
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))  # fmt: skip


def _rows(db: Path) -> tuple[int, int, int]:
    if not db.exists():
        return (0, 0, 0)
    con = sqlite3.connect(db)
    try:
        return tuple(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("conversations", "messages", "projects")
        )
    finally:
        con.close()


@pytest.fixture
def echo_env(data_home: Path, server) -> dict[str, str]:
    server.default = openai_stream(["fine"])
    env = cli_env(data_home)
    assert run_cli("providers", "add", "echo", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    return env


BAD = b"caf\xe9 \xff"


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (
            [b"chat", b"-m", b"echo:m", BAD],
            None,
            "the message is not valid UTF-8 text (byte 0xe9 at position 3)",
        ),
        ([b"chat", b"-m", b"echo:m", b"-s", BAD, b"hello"], None, "--system is not valid UTF-8"),
        ([b"chat", b"-m", b"echo:m", b"--project", BAD, b"hello"], None, "--project is not valid UTF-8"),
        (
            [b"chat", b"-m", b"echo:m", b"-"],
            BAD,
            "standard input is not valid UTF-8 text (byte 0xe9 at position 3)",
        ),
        ([b"compare", b"-m", b"echo:a", b"-m", b"echo:b", b"-"], BAD, "standard input is not valid UTF-8"),
        ([b"compare", b"-m", b"echo:a", b"-m", b"echo:b", BAD], None, "the message is not valid UTF-8"),
    ],
    ids=["prompt", "system", "project", "stdin", "compare stdin", "compare prompt"],
)
def test_text_that_is_not_utf8_is_refused_before_anything_is_saved(
    echo_env, data_home: Path, server, args, stdin, words
):
    result = run_bytes(*args, env=echo_env, stdin=stdin)
    assert words in error_line(result)
    assert _rows(data_home / "dataelan.sqlite3") == (0, 0, 0)  # no empty "New conversation" row
    assert server.posts() == []
    TALLY["bad_inputs"] += 1


def _batch(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


BATCHES = {
    "line is a list": ("p.jsonl", '["a prompt"]\n', "line 1 is a list, not an object"),
    "vars is a list": (
        "p.jsonl",
        json.dumps({"prompt": "hi {{x}}", "vars": ["x"]}) + "\n",
        '"vars" is a list',
    ),
    "prompt is an object": (
        "p.jsonl",
        json.dumps({"prompt": {"text": "hi"}}) + "\n",
        '"prompt" is an object',
    ),
    "line is not JSON": ("p.jsonl", "{oops\n", "line 1 is not JSON"),
    "bad regex": ("p.csv", "prompt,regex\nsay hi,(unclosed\n", "row 1: the regex '(unclosed' is not valid"),
    "latency is a word": ("p.csv", "prompt,max_latency_ms\nsay hi,fast\n", "max_latency_ms is 'fast'"),
    "latency is negative": (
        "p.jsonl",
        json.dumps({"prompt": "hi", "max_latency_ms": -5}) + "\n",
        "max_latency_ms is '-5'",
    ),
    "json check is a word": ("p.csv", "prompt,json\nsay hi,maybe\n", "the check 'json' is 'maybe'"),
    "missing variable": ("p.csv", "prompt\nhi {{name}}\n", "The row does not give it"),
    "not UTF-8": ("p.csv", None, "p.csv is not UTF-8 text"),
}


@pytest.mark.parametrize("case", list(BATCHES))
def test_a_broken_batch_is_refused_before_any_cell_runs(
    echo_env, data_home: Path, tmp_path: Path, server, case
):
    name, text, words = BATCHES[case]
    if text is None:
        path = tmp_path / name
        path.write_bytes(b"prompt\ncaf\xe9\n")
    else:
        path = _batch(tmp_path, name, text)
    result = run_cli("compare", "--prompts", str(path), "-m", "echo:a", "-m", "echo:b", env=echo_env)
    assert words in error_line(result)
    assert server.posts() == []  # not one cell ran
    TALLY["bad_inputs"] += 1


def test_a_long_csv_field_is_read_and_a_resumed_plan_is_checked_first(
    echo_env, data_home: Path, tmp_path: Path, server
):
    long_prompt = "word " * 60_000  # 300 KB: over the csv module's default field limit
    path = _batch(tmp_path, "long.csv", f'prompt,contains\n"{long_prompt}",fine\n')
    done = run_cli("compare", "--prompts", str(path), "-m", "echo:a", env=echo_env)
    assert done.returncode == 0 and "1/1 cells passed" in done.stdout, done.stderr
    # a plan saved by an older version with a check that cannot work: refused on resume, before any cell
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.core.tester.batch import BatchPrompt, BatchRun

    services = build_services()
    try:
        run_id = BatchRun(services.db, services.registry).create(
            [BatchPrompt("say hi", {"regex": "(unclosed"})], ["echo:a"], name="old"
        )
    finally:
        services.close()
    asked = len(server.posts())
    result = run_cli("compare", "--resume", run_id, env=echo_env)
    assert "prompt 1: the regex '(unclosed' is not valid" in error_line(result)
    assert len(server.posts()) == asked
    TALLY["bad_inputs"] += 2
