"""`dataelan workflow …` run as a person would, in a subprocess: listing, validating, importing,
exporting, running, and a run killed with SIGKILL that `resume` finishes without asking again for
any step that had finished."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.cli import cli_env, popen_cli, run_cli
from tests.support.fake_openai import fake_openai_server, openai_stream
from tests.support.processes import children_of, wait_gone
from tests.workflows.conftest import prompt_of

CHAIN = """\
name: Chain
model: openai:gpt-4o-mini
inputs:
  topic: {type: string}
steps:
  - {id: one, kind: llm, prompt: "one {{inputs.topic}}"}
  - {id: two, kind: llm, prompt: "two {{one}}"}
  - {id: three, kind: llm, prompt: "three {{two}}"}
  - {id: out, kind: output, value: "{{three}}"}
"""


@pytest.fixture
def fake():
    server = fake_openai_server()
    server.default = lambda r: openai_stream([f"<{prompt_of(r)}>"])
    yield server
    server.stop()


@pytest.fixture
def env(data_home: Path, fake):
    return cli_env(data_home, OPENAI_API_KEY="sk-workflow-test-000", OPENAI_BASE_URL=fake.base_url + "/v1")


def test_validate_import_list_show_export(env, tmp_path):
    good = tmp_path / "chain.workflow.yaml"
    good.write_text(CHAIN)
    checked = run_cli("workflow", "validate", str(good), env=env)
    assert checked.returncode == 0 and "ok: 'Chain' has 4 steps" in checked.stdout

    bad = tmp_path / "bad.workflow.yaml"
    bad.write_text(CHAIN.replace("{{one}}", "{{uno}}"))
    refused = run_cli("workflow", "import", str(bad), env=env)
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == "error: Line 7, step 'two': refers to 'uno', which is not a step of this workflow"
    )

    imported = run_cli("workflow", "import", str(good), env=env)
    assert imported.returncode == 0 and "imported 'Chain' (version 1)" in imported.stdout
    listed = run_cli("workflow", "list", env=env)
    assert "Chain" in listed.stdout and "Fuse answers" in listed.stdout  # the shipped examples too
    shown = run_cli("workflow", "show", "chain", env=env)
    assert shown.stdout == CHAIN
    out = tmp_path / "out.workflow.yaml"
    assert run_cli("workflow", "export", "Chain", "-o", str(out), env=env).returncode == 0
    assert out.read_text() == CHAIN


def test_malformed_yaml_is_one_line(env, tmp_path):
    bad = tmp_path / "bad.workflow.yaml"
    bad.write_text("name: x\nsteps:\n  - id: [\n")
    result = run_cli("workflow", "validate", str(bad), env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "the YAML is malformed" in result.stderr


def test_run_a_file_prints_outputs_and_progress(env, tmp_path, fake):
    file = tmp_path / "chain.workflow.yaml"
    file.write_text(CHAIN)
    result = run_cli("workflow", "run", str(file), "--var", "topic=owls", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "complete" and shown["outputs"] == {"out": "<three <two <one owls>>>"}
    assert "✓ one" in result.stderr and "✓ three" in result.stderr  # progress on stderr
    values = tmp_path / "inputs.json"
    values.write_text(json.dumps({"topic": "cats"}))
    plain = run_cli("workflow", "run", str(file), "--var-file", str(values), env=env)
    assert plain.stdout.strip() == "<three <two <one cats>>>"
    missing = run_cli("workflow", "run", str(file), env=env)
    assert missing.returncode == 1 and "Missing a value for the input topic" in missing.stderr
    runs = run_cli("workflow", "runs", env=env)
    assert runs.stdout.count("complete") == 2 and "Chain v1" in runs.stdout


def _db_rows(db: Path, sql: str) -> list[tuple]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return []


def test_sigkill_mid_run_then_resume_runs_no_finished_step_again(env, data_home, tmp_path, fake):
    def slow_second(request):
        prompt = prompt_of(request)
        if prompt.startswith("two"):
            return openai_stream([f"w{i} " for i in range(400)], delay=0.01)
        return openai_stream([f"<{prompt}>"])

    fake.default = slow_second
    file = tmp_path / "chain.workflow.yaml"
    file.write_text(CHAIN)
    db = data_home / "dataelan.sqlite3"
    process = popen_cli("workflow", "run", str(file), "--var", "topic=owls", env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = _db_rows(db, "SELECT step_id, status FROM workflow_steps")
            if ("one", "complete") in rows and ("two", "running") in rows and len(fake.posts()) == 2:
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"the run never reached step two: {rows}")
        time.sleep(0.2)  # mid-stream
        helpers = children_of(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert wait_gone(helpers, timeout=10) == []
    finally:
        if process.poll() is None:
            process.kill()
    assert len(fake.posts()) == 2
    (run_id,) = _db_rows(db, "SELECT id FROM workflow_runs")[0]

    listed = run_cli("workflow", "runs", env=env)  # any start marks the cut-off run interrupted
    assert f"{run_id}" in listed.stdout and "interrupted" in listed.stdout

    fake.default = lambda r: openai_stream([f"<{prompt_of(r)}>"])
    resumed = run_cli("workflow", "resume", run_id, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "<three <two <one owls>>>"
    asked_again = [prompt_of(r) for r in fake.posts()[2:]]
    assert asked_again == ["two <one owls>", "three <two <one owls>>"]  # zero finished steps re-executed
    statuses = _db_rows(db, "SELECT step_id, attempt, status FROM workflow_steps ORDER BY created_at")
    assert ("two", 1, "interrupted") in statuses and ("one", 1, "complete") in statuses
    assert [s for s in statuses if s[0] == "one"] == [("one", 1, "complete")]
    assert _db_rows(db, "SELECT status FROM workflow_runs") == [("complete",)]


def test_ctrl_c_cancels_and_leaves_a_resumable_run(env, data_home, tmp_path, fake):
    fake.default = lambda r: openai_stream([f"w{i} " for i in range(400)], delay=0.01)
    file = tmp_path / "chain.workflow.yaml"
    file.write_text(CHAIN)
    db = data_home / "dataelan.sqlite3"
    process = popen_cli("workflow", "run", str(file), "--var", "topic=owls", env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ("one", "running") not in _db_rows(
            db, "SELECT step_id, status FROM workflow_steps"
        ):
            time.sleep(0.02)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    (run_id,) = _db_rows(db, "SELECT id FROM workflow_runs")[0]
    assert f"workflow resume {run_id}" in stderr and "Traceback" not in stderr
    assert _db_rows(db, "SELECT status FROM workflow_runs") == [("cancelled",)]


HUMAN = """\
name: Ask me
model: openai:gpt-4o-mini
steps:
  - {id: draft, kind: llm, prompt: "draft"}
  - {id: check, kind: human, prompt: "Is this right?", draft: "{{draft}}"}
  - {id: shout, kind: template, text: "{{check.json.x}}", on_error: continue}
  - {id: out, kind: output, value: "{{check}}"}
"""


def test_a_human_step_waits_when_nobody_answers_and_is_asked_again_by_resume(env, tmp_path, fake):
    file = tmp_path / "ask.workflow.yaml"
    file.write_text(HUMAN)
    waited = run_cli("workflow", "run", str(file), input="", env=env)  # end of input: nobody to answer
    assert waited.returncode == 3, waited.stderr
    assert "Is this right?" in waited.stderr and "<draft>" in waited.stderr  # the question and the draft
    (run_id,) = [w for w in waited.stderr.split() if w.count("-") == 4][:1]
    assert f"waits for an answer: `dataelan workflow resume {run_id}`" in waited.stderr

    answered = run_cli("workflow", "resume", run_id, input="Yes, ship it.\n", env=env)  # a new process
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == "Yes, ship it."
    assert "Is this right?" in answered.stderr and len(fake.posts()) == 1  # the draft was not asked again
    # a failed step's line names it once: "✗ shout its output is not JSON", not "✗ shout Step 'shout': …"
    assert "✗ shout check.json.x: its output is not JSON" in answered.stderr
    assert "Step 'shout'" not in answered.stderr
