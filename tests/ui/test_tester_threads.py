"""The tester window never waits on SQLite: every database call its code makes runs off the GUI thread."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from PySide6.QtCore import Qt

from tests.ui.conftest import wait_until


@dataclass(frozen=True)
class DbCall:
    thread: str
    on_gui_thread: bool
    from_window: str | None  # the window's function on the stack, if any


def _window_caller(window_file: str) -> str | None:
    """The innermost function of the tester window's module on the current stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == window_file:
            return f"{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def test_the_window_does_no_database_work_on_the_gui_thread(
    qloop, qtbot, ui_run, services, two_servers, tmp_path, monkeypatch
):
    from dataelan_desktop.ui.tester import TesterWindow
    from dataelan_desktop.ui.tester import window as window_module

    services.bus.bind_loop(qloop)
    calls: list[DbCall] = []
    real_call = services.db.call

    def recording_call(fn):
        gui = threading.current_thread() is threading.main_thread()
        calls.append(DbCall(threading.current_thread().name, gui, _window_caller(window_module.__file__)))
        return real_call(fn)

    # every database call (history, BatchRun, Database.run) goes through this instance's call()
    monkeypatch.setattr(services.db, "call", recording_call)
    window = TesterWindow(services)
    qtbot.addWidget(window)
    window.show()

    def click(button) -> None:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    async def scenario():
        # a blind comparison, a vote, the leaderboard and the history
        window.columns[0].model.setEditText("one:m")
        window.columns[1].model.setEditText("two:m")
        window.blind.setChecked(True)
        window.prompt.setPlainText("Introduce yourself")
        click(window.run_button)
        await wait_until(lambda: window.vote_buttons["tie"].isVisible(), message="vote buttons")
        click(window.vote_buttons["tie"])
        await wait_until(lambda: "Vote recorded" in window.status.text(), message="the vote saved")
        window.tabs.setCurrentWidget(window.board_page)
        await wait_until(lambda: window.board.count() == 2, message="the leaderboard")
        window.tabs.setCurrentWidget(window.history)
        await wait_until(lambda: window.history.count() == 1, message="the history")
        window.history.itemActivated.emit(window.history.item(0))
        await wait_until(lambda: "Comparison of" in window.status.text(), message="the run reopened")
        click(window.columns[0].continue_chat)
        await wait_until(lambda: "Opened as a conversation" in window.status.text(), message="continued")

        # a batch, its export, and the batch reopened from the history
        window.tabs.setCurrentIndex(1)
        window.batch_prompts.setPlainText("Say something\n\nSay more")
        window.batch_models.setText("one:m, two:m")
        click(window.batch_run_button)
        await wait_until(lambda: "4/4 cells run" in window.status.text(), message="the batch")
        window._export_batch("csv", str(tmp_path / "batch.csv"))
        await wait_until(lambda: "Wrote" in window.status.text(), message="the export")
        assert (tmp_path / "batch.csv").read_text().count("\n") == 5
        window.tabs.setCurrentWidget(window.history)
        await wait_until(lambda: window.history.count() == 2, message="the batch in the history")
        window.status.clear()
        window.history.itemActivated.emit(window.history.item(0))
        await wait_until(lambda: "4/4 cells run" in window.status.text() and window.tabs.currentIndex() == 1,
                         message="the batch reopened")  # fmt: skip

    ui_run(scenario())
    ui_run(services.registry.aclose())
    monkeypatch.undo()

    # neither the window's code nor the core it drives (BatchRun, history) waited on SQLite here
    on_gui_thread = [c.from_window or "core" for c in calls if c.on_gui_thread]
    assert on_gui_thread == []
    # not vacuous: the flow did reach the database, on its own thread
    assert sum(c.thread.startswith("dataelan-db") for c in calls) >= 15
