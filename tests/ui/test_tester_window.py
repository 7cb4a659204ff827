"""The tester window driven by clicks: choose models, run, vote blind, reopen from history."""

from __future__ import annotations

import csv
import re

from PySide6.QtCore import Qt

from dataelan_desktop.core.tester.history import runs, votes
from tests.ui.conftest import wait_until


def test_run_vote_and_reopen(qloop, qtbot, ui_run, services, two_servers):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    compare, board, history = window.compare_tab, window.leaderboard_tab, window.history_tab
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        compare.columns[0].model.setEditText("one:m")
        compare.columns[1].model.setEditText("two:m")
        compare.temperature.setValue(0.5)
        compare.columns[1].max_tokens.setValue(77)  # column 2's own limit; column 1 uses the shared settings
        compare.blind.setChecked(True)
        qtbot.keyClicks(compare.prompt, "Introduce yourself")
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: compare.votes.isVisible(), message="vote buttons")
        titles = [c.title.text() for c in compare.columns]
        assert titles == ["Model A", "Model B"]  # names hidden
        texts = sorted(c.output.toPlainText() for c in compare.columns)
        assert texts == ["first model speaks", "second model"]
        first_body, second_body = (s.posts()[-1].body for s in two_servers)
        assert first_body["temperature"] == 0.5 and "max_tokens" not in first_body
        assert second_body["temperature"] == 0.5 and second_body["max_tokens"] == 77
        assert all("complete" in c.stats.text() for c in compare.columns)
        assert not any("stop: " in c.stats.text() or "fastest" in c.stats.text() for c in compare.columns)
        qtbot.mouseClick(compare.votes.best_buttons[0], Qt.MouseButton.LeftButton)
        assert not compare.votes.isVisible()  # one vote per run
        await wait_until(lambda: "A was" in window.status.text(), message="the vote saved")
        assert all(":" in c.title.text() for c in compare.columns)  # names revealed after the vote
        assert all("first token" in c.stats.text() and "stop: " in c.stats.text() for c in compare.columns)
        assert sum("fastest" in c.stats.text() for c in compare.columns) == 1
        live_stats = [c.stats.text() for c in compare.columns]

        window.tabs.setCurrentWidget(board)
        await wait_until(lambda: board.board.count() == 2, message="the leaderboard")
        assert board.board.item(0).text().startswith("1. ")
        assert [board.category.itemText(i) for i in range(board.category.count())] == ["All categories"]
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 1, message="the history")
        history.itemActivated.emit(history.item(0))
        await wait_until(lambda: window.tabs.currentIndex() == 0, message="the run reopened")
        assert compare.prompt.toPlainText() == "Introduce yourself"
        assert [c.stats.text() for c in compare.columns] == live_stats  # the same measurements, reopened
        assert sorted(c.model.currentText() for c in compare.columns) == [
            "one:m",
            "two:m",
        ]  # ready to run again

    ui_run(scenario())
    ui_run(services.registry.aclose())
    assert len(runs(services.db)) == 1 and len(votes(services.db)) == 1


def test_a_missing_model_is_explained(qloop, qtbot, ui_run, services):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    compare = window.compare_tab
    qtbot.addWidget(window)
    compare.prompt.setPlainText("hi")
    compare.run()
    assert "Choose a model for every column" in window.status.text()


def test_batch_tab_runs_shows_the_grid_and_exports(qloop, qtbot, ui_run, services, two_servers, tmp_path):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    batch_tab = window.batch_tab
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        window.tabs.setCurrentIndex(1)
        batch_tab.prompts.setPlainText("Say something\n\nSay more")
        await wait_until(lambda: batch_tab.models.list.count() >= 2, message="the models listed")
        tick(batch_tab, "one:gpt-4o-mini", "two:gpt-4o-mini")
        batch_tab.contains.setText("model")
        qtbot.mouseClick(batch_tab.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "4/4 cells run" in window.status.text(), message="batch done")
        assert batch_tab.progress.value() == 4
        cells = [batch_tab.grid.item(r, c).text() for r in range(2) for c in range(2)]
        assert all(text.startswith("PASS") for text in cells)
        batch_tab.export("html", str(tmp_path / "report.html"))
        await wait_until(lambda: "Wrote" in window.status.text(), message="the report written")
        assert "4 of 4 cells passed" in (tmp_path / "report.html").read_text()
        batch_tab.export("csv", str(tmp_path / "report.csv"))
        await wait_until(lambda: (tmp_path / "report.csv").exists(), message="the CSV written")
        rows = list(csv.DictReader((tmp_path / "report.csv").open(encoding="utf-8")))
        for row in rows:  # seconds to the millisecond, not 845.9338459997525
            assert re.fullmatch(r"\d+\.\d{1,3}", row["total_s"]) and re.fullmatch(
                r"\d+\.\d{1,3}", row["first_token_s"]
            )

    ui_run(scenario())
    ui_run(services.registry.aclose())


def test_a_reopen_that_arrives_after_run_all_does_not_replace_the_run(
    qloop, qtbot, ui_run, services, two_servers
):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    compare, history = window.compare_tab, window.history_tab
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        compare.columns[0].model.setEditText("one:m")
        compare.columns[1].model.setEditText("two:m")
        compare.prompt.setPlainText("First question")
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: window.status.text() == "Done.", message="the first run")
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 1, message="the history")
        window.tabs.setCurrentIndex(0)
        history.itemActivated.emit(history.item(0))  # still being read when...
        compare.prompt.setPlainText("Second question")
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)  # ...the person runs another prompt
        await wait_until(lambda: window.status.text() == "Done.", message="the second run")
        assert compare.prompt.toPlainText() == "Second question" and window.tabs.currentIndex() == 0
        assert [c.title.text() for c in compare.columns] == ["one:m", "two:m"]

    ui_run(scenario())
    ui_run(services.registry.aclose())
    assert sorted(r.prompt for r in runs(services.db)) == ["First question", "Second question"]


def tick(batch_tab, *refs: str) -> None:
    """Tick models in the batch tab's picker, as a click on each one's check box does."""
    for ref in refs:
        (item,) = batch_tab.models.list.findItems(ref, Qt.MatchFlag.MatchExactly)
        item.setCheckState(Qt.CheckState.Checked)
