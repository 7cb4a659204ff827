"""Batch runs: prompts × models with checks, the three report formats, resume without redoing cells."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.tester.batch import BatchPrompt, BatchRun, load_prompts
from tests.support.cli import cli_env, run_cli
from tests.support.fake_openai import openai_stream


def answering(request):
    """Reply JSON when asked for JSON, else repeat the question's last word."""
    question = request.body["messages"][-1]["content"]
    if "json" in question.lower():
        return openai_stream(['{"ok": ', "true}"])
    return openai_stream(["The ", "answer ", "is ", question.split()[-1]])


@pytest.fixture
def server(server):
    server.default = answering
    return server


PROMPTS = [
    BatchPrompt("Say paris", {"contains": "paris"}),
    BatchPrompt("Give json", {"json": "true"}),
    BatchPrompt("Say 42", {"regex": r"\b42\b", "max_latency_ms": 60_000}),
    BatchPrompt("Say nothing useful", {"contains": "banana"}),
]


async def test_batch_grid_and_reports(services, server):
    save_provider(services.db, "a", base_url=server.base_url + "/v1")
    save_provider(services.db, "b", base_url=server.base_url + "/v1")
    batch = BatchRun(services.db, services.registry)
    batch.create(PROMPTS, ["a:m", "b:m"])
    progress = []
    batch.on_progress = lambda done, total: progress.append((done, total))
    await batch.run(concurrency=3)
    grid = batch.grid()
    assert [[cell["passed"] for cell in row] for row in grid] == [
        [True, True],
        [True, True],
        [True, True],
        [False, False],
    ]
    assert grid[1][0]["checks"] == {"json": True}
    assert progress[-1] == (8, 8)

    data = json.loads(batch.export("json"))
    assert len(data["cells"]) == 8 and data["models"] == ["a:m", "b:m"]
    rows = list(csv.DictReader(io.StringIO(batch.export("csv"))))
    assert len(rows) == 8 and {r["passed"] for r in rows} == {"True", "False"}
    report = batch.export("html")
    assert (
        report.startswith("<!DOCTYPE html>") and "6 of 8 cells passed" in report and "<script" not in report
    )


async def test_cancelled_half_way_resumes_without_redoing_cells(services, server):
    save_provider(services.db, "slow", base_url=server.base_url + "/v1")
    server.default = lambda request: openai_stream(["slow ", "reply"], delay=0.15)
    batch = BatchRun(services.db, services.registry)
    run_id = batch.create([BatchPrompt(f"question {i}") for i in range(6)], ["slow:m"])
    batch.on_progress = lambda done, total: batch.cancel() if done >= 3 else None
    await batch.run(concurrency=1)
    finished = len(batch.cells())
    assert 3 <= finished < 6
    requests_before = len(server.posts())

    resumed = BatchRun(services.db, services.registry, run_id)
    await resumed.run(concurrency=2)
    assert len(resumed.cells()) == 6
    asked = [r.body["messages"][-1]["content"] for r in server.posts()[requests_before:]]
    done_before = {f"question {c['prompt_index']}" for c in resumed.cells()[:finished]}
    assert not done_before & set(asked)  # finished cells were not asked again
    assert len(asked) == 6 - finished


def test_prompt_files_with_variables(tmp_path: Path):
    table = tmp_path / "prompts.csv"
    table.write_text(
        "prompt,city,contains,json\nWhat is the capital of {{city}}?,France,paris,\n"
        'And of {{ city }}?,Peru,lima,\n"Answer {""capital"": ""..""} for {{city}}",Chile,,true\n'
    )
    prompts = load_prompts(table)
    assert [p.text for p in prompts] == [
        "What is the capital of France?",
        "And of Peru?",
        'Answer {"capital": ".."} for Chile',  # JSON braces in a prompt stay as written
    ]
    assert prompts[0].checks == {"contains": "paris"}
    lines = tmp_path / "prompts.jsonl"
    lines.write_text('{"prompt": "Translate {{word}}", "vars": {"word": "cat"}, "regex": "chat"}\n')
    assert load_prompts(lines)[0].text == "Translate cat"
    broken = tmp_path / "broken.csv"
    broken.write_text("prompt,city\nCapital of {{country}}?,France\n")
    with pytest.raises(ValueError, match="value for country"):
        load_prompts(broken)


def test_cli_batch_report(data_home: Path, server, tmp_path: Path):
    env = cli_env(data_home)
    assert run_cli("providers", "add", "a", "--base-url", server.base_url + "/v1", env=env).returncode == 0
    prompts = tmp_path / "p.csv"
    prompts.write_text("prompt,contains\nSay paris,paris\nSay rome,london\n")
    report = tmp_path / "report.html"
    result = run_cli("compare", "--prompts", str(prompts), "-m", "a:m", "--out", str(report), env=env)
    assert result.returncode == 0, result.stderr
    assert "1/2 cells passed" in result.stdout and "1 of 2 cells passed" in report.read_text()


async def test_cells_carry_the_tester_measurements_and_the_report_shows_its_stats_line(services, server):
    """A batch cell is the same reply record as a comparison column: a server that reports no usage
    is counted and marked, in the CSV and in the HTML report's stats line."""
    save_provider(services.db, "quiet", base_url=server.base_url + "/v1")
    server.default = lambda request: openai_stream(["one ", "two ", "three"], usage=False)
    batch = BatchRun(services.db, services.registry)
    batch.create([BatchPrompt("count to three")], ["quiet:m"])
    (cell,) = await batch.run()
    assert (cell["status"], cell["output_tokens"], cell["usage_estimated"]) == ("complete", 3, True)
    assert cell["generation_ms"] is not None and cell["ttft_ms"] <= cell["total_ms"]
    (row,) = csv.DictReader(io.StringIO(batch.export("csv")))
    assert (row["output_tokens"], row["usage_estimated"]) == ("3", "True")
    assert "? → 3 tokens (estimated)" in batch.export("html")
