"""The model tester: columns finish on their own, failures stay in their column, ratings move the right way."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.tester.history import continue_in_chat, get_run, record_vote, save_run, votes
from dataelan_desktop.core.tester.prices import estimate_cost
from dataelan_desktop.core.tester.ratings import Vote, bradley_terry, elo, leaderboard
from dataelan_desktop.core.tester.runner import Comparison
from tests.support.cli import cli_env, run_cli
from tests.support.fake_openai import fake_openai_server, openai_error, openai_stream


@pytest.fixture
def servers():
    made = [fake_openai_server() for _ in range(3)]
    yield made
    for s in made:
        s.stop()


async def test_columns_finish_on_their_own_schedule(services, servers, tiny_gguf):
    failing, slow, fast = servers
    failing.default = openai_error(500, "the GPU caught fire")
    slow.default = openai_stream([f"s{i} " for i in range(30)], delay=0.05, prompt_tokens=11)
    fast.default = openai_stream([f"f{i} " for i in range(30)], prompt_tokens=11)
    for name, server in zip(("failing", "slow", "fast"), servers, strict=True):
        save_provider(services.db, name, base_url=server.base_url + "/v1")
    comparison = Comparison(services.registry, ["failing:m", "slow:m", "fast:m", f"local:{tiny_gguf}"])
    updates: list[tuple[int, str]] = []
    comparison.on_update = lambda i, c: updates.append((i, c.status))
    comparison.start("Write thirty words", params=None)
    columns = await comparison.wait()
    await services.registry.aclose()

    bad, slow_col, fast_col, local_col = columns
    assert bad.status == "failed" and "GPU caught fire" in bad.error and bad.text == ""
    assert slow_col.status == fast_col.status == local_col.status == "complete"
    assert fast_col.finished_at < slow_col.finished_at  # nobody waits for the slow one
    assert slow_col.duration_ms >= 30 * 50 * 0.8  # the slow server's 50 ms per token, within tolerance
    for col in (slow_col, fast_col):
        assert (col.input_tokens, col.output_tokens) == (11, 30)  # exactly what the servers reported
        assert col.ttft_ms is not None and col.tokens_per_second > 0
    assert local_col.output_tokens and local_col.cost == 0.0
    assert comparison.fastest() in (2, 3) and comparison.cheapest() == 3  # the local model costs nothing
    assert (0, "failed") in updates and (2, "complete") in updates  # columns report as they go


async def test_stopping_one_column_leaves_the_others(services, servers):
    slow, fast, _ = servers
    slow.default = openai_stream([f"s{i} " for i in range(200)], delay=0.02)
    fast.default = openai_stream(["quick"])
    save_provider(services.db, "slow", base_url=slow.base_url + "/v1")
    save_provider(services.db, "fast", base_url=fast.base_url + "/v1")
    comparison = Comparison(services.registry, ["slow:m", "fast:m"]).start("go")
    import asyncio

    while "s3" not in comparison.columns[0].text:
        await asyncio.sleep(0.01)
    comparison.stop(0)
    columns = await comparison.wait()
    assert columns[0].status == "stopped" and "s3" in columns[0].text
    assert columns[1].status == "complete" and columns[1].text == "quick"


def test_prices():
    assert estimate_cost("openai:gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert estimate_cost("local:any.gguf", 10, 10) == 0.0
    assert estimate_cost("unknownprovider:x", 10, 10) is None


def test_elo_against_hand_computed_values():
    ratings = elo([Vote("a", "b", "left")], k=32)
    assert ratings == {"a": 1016.0, "b": 984.0}
    ratings = elo([Vote("a", "b", "left"), Vote("a", "b", "right")], k=32)
    expected_a = 1 / (1 + 10 ** ((984 - 1016) / 400))  # 0.54592
    assert ratings["a"] == pytest.approx(1016 + 32 * (0 - expected_a))  # 998.53
    assert ratings["b"] == pytest.approx(984 + 32 * (1 - (1 - expected_a)))  # 1001.47
    assert elo([Vote("a", "b", "tie")]) == {"a": 1000.0, "b": 1000.0}


def test_bradley_terry_against_hand_computed_values():
    # a beat b three times out of four: strengths 3:1, i.e. 400·log10(3) ≈ 190.8 points apart
    four = [Vote("a", "b", "left")] * 3 + [Vote("a", "b", "right")]
    r = bradley_terry(four, prior=0.0)
    assert r["a"] - r["b"] == pytest.approx(400 * math.log10(3), abs=0.1)
    # a tie counts as half a win each way: equal ratings
    r = bradley_terry([Vote("x", "y", "tie"), Vote("x", "y", "both_bad")], prior=0.0)
    assert r["x"] == pytest.approx(r["y"])


def test_leaderboard_moves_the_right_way_for_scripted_votes():
    script = (
        [Vote("strong", "weak", "left")] * 6
        + [Vote("weak", "middle", "right")] * 4
        + [Vote("strong", "middle", "left")] * 3
    )
    board = leaderboard(script)
    assert [s.model for s in board] == ["strong", "middle", "weak"]
    for s in board:
        assert s.low is not None and s.low <= s.rating <= s.high
    assert board[0].votes == 9
    coding = leaderboard(
        [Vote("a", "b", "right", "coding"), Vote("a", "b", "left", "writing")], category="coding"
    )
    assert [s.model for s in coding] == ["b", "a"]


def test_runs_are_saved_voted_and_continued_in_chat(services):
    from dataelan_desktop.core.tester.runner import ColumnResult

    columns = [
        ColumnResult("openai:a", text="A says", status="complete"),
        ColumnResult("openai:b", text="B says", status="complete"),
    ]
    run_id = save_run(
        services.db, "Which is better?", columns, category="writing", blind=True, settings={"order": [1, 0]}
    )
    assert get_run(services.db, run_id).columns[0]["text"] == "A says"
    record_vote(services.db, run_id, "openai:b", "openai:a", "left")
    assert votes(services.db) == [Vote("openai:b", "openai:a", "left", "writing")]
    conversation_id = continue_in_chat(services.store, run_id, 1)
    shown = services.store.visible_messages(conversation_id)
    assert [m.content for m in shown] == ["Which is better?", "B says"] and shown[1].model == "openai:b"


def test_cli_compare_blind_vote_and_leaderboard(data_home: Path, servers):
    first, second, _ = servers
    first.default = openai_stream(["alpha ", "answer"], prompt_tokens=5)
    second.default = openai_stream(["beta ", "answer"], prompt_tokens=5)
    env = cli_env(data_home)
    for name, server in (("one", first), ("two", second)):
        assert (
            run_cli("providers", "add", name, "--base-url", server.base_url + "/v1", env=env).returncode == 0
        )
    result = run_cli(
        "compare", "--blind", "--category", "greetings", "-m", "one:m", "-m", "two:m", "Say hi", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "===== Model A =====" in result.stdout and "one:m" not in result.stdout  # names hidden
    run_id = result.stdout.split("saved as run ")[1].split()[0]
    voted = run_cli("tester", "vote", run_id, "left", env=env)
    assert voted.returncode == 0 and "Model A was" in voted.stdout
    winner = voted.stdout.split("Model A was ")[1].split(",")[0]
    board = run_cli("tester", "leaderboard", "--category", "greetings", env=env)
    assert board.stdout.splitlines()[0].split()[1] == winner
    assert run_id in run_cli("tester", "history", env=env).stdout
    cont = run_cli("tester", "continue", run_id, "1", env=env)
    assert cont.returncode == 0 and "conversation" in cont.stdout
    bad = run_cli("compare", "-m", "one:m", "Only one", env=env)
    assert bad.returncode == 1 and "2 to 6 models" in bad.stderr


def test_cli_blind_three_models_hides_their_figures_and_takes_best_and_rank_votes(data_home: Path, servers):
    env = cli_env(data_home)
    for name, server, words in zip(("one", "two", "three"), servers, ("alpha", "beta", "gamma"), strict=True):
        server.default = openai_stream([f"{words} ", "answer"], prompt_tokens=5)
        assert (
            run_cli("providers", "add", name, "--base-url", server.base_url + "/v1", env=env).returncode == 0
        )
    models = ["-m", "one:m", "-m", "two:m", "-m", "three:m"]
    result = run_cli("compare", "--blind", *models, "Say hi", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("Model ")]
    assert [line.split(":")[0].strip() for line in lines] == ["Model A", "Model B", "Model C"]
    for line in lines:  # finished, and how long: nothing else that could name the model
        assert "tokens" not in line and "stop:" not in line and "$" not in line and "⚡" not in line, line
    run_id = result.stdout.split("saved as run ")[1].split()[0]
    assert "best A|B|…" in result.stdout

    voted = run_cli("tester", "vote", run_id, "best", "b", env=env)
    assert voted.returncode == 0, voted.stderr
    winner = voted.stdout.split("Model B was ")[1].split(",")[0]
    board = run_cli("tester", "leaderboard", env=env).stdout.splitlines()
    assert board[0].split()[1] == winner and all("(too few votes)" in line for line in board)
    assert run_cli("tester", "vote", run_id, "rank", "1", "2", "2", env=env).returncode == 0
    refused = run_cli("tester", "vote", run_id, "left", env=env)
    assert (
        refused.returncode == 1 and "this run has 3" in refused.stderr and "Traceback" not in refused.stderr
    )
    with_ranks = run_cli("tester", "vote", run_id, "rank", "1", "9", "2", env=env)
    assert with_ranks.returncode == 1 and "a rank from 1 to 3" in with_ranks.stderr


def test_leaderboard_gives_no_certain_range_after_one_vote_and_an_honest_one_later():
    (a, b) = leaderboard([Vote("a", "b", "left")])
    assert (a.interval(), b.interval()) == ("too few votes", "too few votes")
    # many votes: a real interval around the rating, narrower the more votes there are
    few = {s.model: s for s in leaderboard([Vote("a", "b", "left")] * 4 + [Vote("a", "b", "right")] * 2)}
    many = {
        s.model: s for s in leaderboard(([Vote("a", "b", "left")] * 4 + [Vote("a", "b", "right")] * 2) * 10)
    }
    for board in (few, many):
        assert board["a"].low < board["a"].rating < board["a"].high
    assert (many["a"].high - many["a"].low) < (few["a"].high - few["a"].low) / 2
    assert few["a"].high - few["a"].low > 100  # six votes pin little down, and the range says so


def test_cli_compare_and_show_print_the_same_stats_lines(data_home: Path, servers):
    """`dataelan compare` and `dataelan tester show` print each column's stats line, the one the
    window shows; a reopened run shows the same measurements as the live one."""
    first, second, _ = servers
    first.default = openai_stream(["alpha ", "answer"], prompt_tokens=5)
    second.default = openai_stream(["beta ", "answer"], usage=False)
    env = cli_env(data_home)
    for name, server in (("one", first), ("two", second)):
        assert (
            run_cli("providers", "add", name, "--base-url", server.base_url + "/v1", env=env).returncode == 0
        )
    result = run_cli("compare", "-m", "one:m", "-m", "two:m", "Say hi", env=env)
    assert result.returncode == 0, result.stderr
    live = [line for line in result.stdout.splitlines() if ": complete · first token" in line]
    assert [line[3:].split(": ", 1)[0] for line in live] == ["one:m", "two:m"]  # after the ⚡/$ marks
    assert "5 → 2 tokens ·" in live[0] and "? → 2 tokens (estimated)" in live[1]
    run_id = result.stdout.split("saved as run ")[1].split()[0]
    shown = run_cli("tester", "show", run_id, env=env).stdout
    reopened = [line for line in shown.splitlines() if ": complete · first token" in line]
    assert [line.split(": ", 1)[1] for line in reopened] == [line.split(": ", 1)[1] for line in live]
