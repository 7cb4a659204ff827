"""The tester window driven by clicks: choose models, run, vote blind, reopen from history."""

from __future__ import annotations

from PySide6.QtCore import Qt

from dataelan_desktop.core.tester.history import runs, votes
from tests.ui.conftest import wait_until


def test_run_vote_and_reopen(qloop, qtbot, ui_run, services, two_servers):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        window.columns[0].model.setEditText("one:m")
        window.columns[1].model.setEditText("two:m")
        window.temperature.setValue(0.5)
        window.columns[1].max_tokens.setValue(77)  # column 2's own limit; column 1 uses the shared settings
        window.blind.setChecked(True)
        qtbot.keyClicks(window.prompt, "Introduce yourself")
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: window.vote_buttons["left"].isVisible(), message="vote buttons")
        titles = [c.title.text() for c in window.columns]
        assert titles == ["Model A", "Model B"]  # names hidden
        texts = sorted(c.output.toPlainText() for c in window.columns)
        assert texts == ["first model speaks", "second model"]
        first_body, second_body = (s.posts()[-1].body for s in two_servers)
        assert first_body["temperature"] == 0.5 and "max_tokens" not in first_body
        assert second_body["temperature"] == 0.5 and second_body["max_tokens"] == 77
        assert all("complete" in c.stats.text() for c in window.columns)
        assert all("first token" in c.stats.text() and "stop: " in c.stats.text() for c in window.columns)
        assert sum("fastest" in c.stats.text() for c in window.columns) == 1
        live_stats = [c.stats.text() for c in window.columns]
        qtbot.mouseClick(window.vote_buttons["left"], Qt.MouseButton.LeftButton)
        assert not any(b.isVisible() for b in window.vote_buttons.values())  # one vote per run
        await wait_until(lambda: "A was" in window.status.text(), message="the vote saved")
        assert all(":" in c.title.text() for c in window.columns)  # names revealed after the vote

        window.tabs.setCurrentWidget(window.board_page)
        await wait_until(lambda: window.board.count() == 2, message="the leaderboard")
        assert window.board.item(0).text().startswith("1. ")
        assert [window.board_category.itemText(i) for i in range(window.board_category.count())] == [
            "All categories"
        ]
        window.tabs.setCurrentWidget(window.history)
        await wait_until(lambda: window.history.count() == 1, message="the history")
        window.history.itemActivated.emit(window.history.item(0))
        await wait_until(lambda: window.tabs.currentIndex() == 0, message="the run reopened")
        assert window.prompt.toPlainText() == "Introduce yourself"
        assert [c.stats.text() for c in window.columns] == live_stats  # the same measurements, reopened
        assert sorted(c.model.currentText() for c in window.columns) == [
            "one:m",
            "two:m",
        ]  # ready to run again

    ui_run(scenario())
    ui_run(services.registry.aclose())
    assert len(runs(services.db)) == 1 and len(votes(services.db)) == 1


def test_a_missing_model_is_explained(qloop, qtbot, ui_run, services):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.prompt.setPlainText("hi")
    window.run()
    assert "Choose a model for every column" in window.status.text()


def test_batch_tab_runs_shows_the_grid_and_exports(qloop, qtbot, ui_run, services, two_servers, tmp_path):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        window.tabs.setCurrentIndex(1)
        window.batch_prompts.setPlainText("Say something\n\nSay more")
        window.batch_models.setText("one:m, two:m")
        window.batch_contains.setText("model")
        qtbot.mouseClick(window.batch_run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "4/4 cells run" in window.status.text(), message="batch done")
        assert window.batch_progress.value() == 4
        cells = [window.batch_grid.item(r, c).text() for r in range(2) for c in range(2)]
        assert all(text.startswith("PASS") for text in cells)
        window._export_batch("html", str(tmp_path / "report.html"))
        await wait_until(lambda: "Wrote" in window.status.text(), message="the report written")
        assert "4 of 4 cells passed" in (tmp_path / "report.html").read_text()

    ui_run(scenario())
    ui_run(services.registry.aclose())


def test_a_reopen_that_arrives_after_run_all_does_not_replace_the_run(
    qloop, qtbot, ui_run, services, two_servers
):
    from dataelan_desktop.ui.tester import TesterWindow

    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        window.columns[0].model.setEditText("one:m")
        window.columns[1].model.setEditText("two:m")
        window.prompt.setPlainText("First question")
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: window.status.text() == "Done.", message="the first run")
        window.tabs.setCurrentWidget(window.history)
        await wait_until(lambda: window.history.count() == 1, message="the history")
        window.tabs.setCurrentIndex(0)
        window.history.itemActivated.emit(window.history.item(0))  # still being read when...
        window.prompt.setPlainText("Second question")
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)  # ...the person runs another prompt
        await wait_until(lambda: window.status.text() == "Done.", message="the second run")
        assert window.prompt.toPlainText() == "Second question" and window.tabs.currentIndex() == 0
        assert [c.title.text() for c in window.columns] == ["one:m", "two:m"]

    ui_run(scenario())
    ui_run(services.registry.aclose())
    assert sorted(r.prompt for r in runs(services.db)) == ["First question", "Second question"]
