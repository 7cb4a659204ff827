"""The tester window never waits on SQLite: every database call of a full tester flow runs off the GUI
thread, and every SQL statement on the database's own thread."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.support.db_threads import DatabaseThreads
from tests.ui.conftest import wait_until
from tests.ui.test_tester_window import tick


def test_the_window_does_no_database_work_on_the_gui_thread(
    qloop, qtbot, ui_run, services, two_servers, tmp_path
):
    from dataelan_desktop.ui.tester import TesterWindow

    services.bus.bind_loop(qloop)
    window = TesterWindow(services)
    compare, batch_tab, board, history = (
        window.compare_tab,
        window.batch_tab,
        window.leaderboard_tab,
        window.history_tab,
    )
    qtbot.addWidget(window)
    window.show()

    def click(button) -> None:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    async def scenario():
        # a blind comparison, a vote, the leaderboard and the history
        compare.columns[0].model.setEditText("one:m")
        compare.columns[1].model.setEditText("two:m")
        compare.blind.setChecked(True)
        compare.prompt.setPlainText("Introduce yourself")
        click(compare.run_button)
        await wait_until(lambda: compare.votes.isVisible(), message="vote buttons")
        click(compare.votes.tie_button)
        await wait_until(lambda: "Vote recorded" in window.status.text(), message="the vote saved")
        window.tabs.setCurrentWidget(board)
        await wait_until(lambda: board.board.count() == 2, message="the leaderboard")
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 1, message="the history")
        history.itemActivated.emit(history.item(0))
        await wait_until(lambda: "Comparison of" in window.status.text(), message="the run reopened")
        click(compare.columns[0].continue_chat)
        await wait_until(lambda: "Opened as a conversation" in window.status.text(), message="continued")

        # a batch, its export, and the batch reopened from the history
        window.tabs.setCurrentIndex(1)
        batch_tab.prompts.setPlainText("Say something\n\nSay more")
        await wait_until(lambda: batch_tab.models.list.count() >= 2, message="the models listed")
        tick(batch_tab, "one:gpt-4o-mini", "two:gpt-4o-mini")
        click(batch_tab.run_button)
        await wait_until(lambda: "4/4 cells run" in window.status.text(), message="the batch")
        batch_tab.export("csv", str(tmp_path / "batch.csv"))
        await wait_until(lambda: "Wrote" in window.status.text(), message="the export")
        assert (tmp_path / "batch.csv").read_text().count("\n") == 5
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 2, message="the batch in the history")
        window.status.clear()
        history.itemActivated.emit(history.item(0))
        await wait_until(lambda: "4/4 cells run" in window.status.text() and window.tabs.currentIndex() == 1,
                         message="the batch reopened")  # fmt: skip

    with DatabaseThreads(services.db) as threads:
        ui_run(scenario())
    ui_run(services.registry.aclose())

    # neither the window's code nor the core it drives (BatchRun, history) waited on SQLite here
    assert threads.gui_waits == []
    assert threads.off_the_database_thread() == []
    # not vacuous: the flow did reach the database
    assert len(threads.callers) >= 15 and len(threads.sql_threads) >= 30
