"""The one door from a widget to core (ui/ops.py), as a window sees it: results arrive on the GUI
thread, only the newest of a kind is shown, changes apply in the order they were made, and a failure
reaches the person once, as a sentence."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtWidgets import QMessageBox, QWidget

from dataelan_desktop.ui import ops
from tests.support.db_threads import DatabaseThreads
from tests.ui.conftest import wait_until


@pytest.fixture
def shown(monkeypatch) -> list[str]:
    """What message boxes told the person."""
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: said.append(text))
    return said


@pytest.fixture
def owner(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def test_only_the_newest_query_of_a_kind_is_shown(qloop, ui_run, owner):
    release = threading.Event()
    delivered: list[str] = []

    def slow() -> str:
        release.wait(10)
        return "old"

    async def scenario():
        first = ops.query(owner, "list", slow, on_done=delivered.append)
        second = ops.query(owner, "list", lambda: "new", on_done=delivered.append)
        other = ops.query(owner, "form", lambda: "form", on_done=delivered.append)  # another kind
        await second
        await other
        release.set()
        assert await first is None  # it ran, and its answer was dropped
        ops.supersede(owner, "form")
        return await ops.query(owner, "form", lambda: "again", on_done=delivered.append)

    assert ui_run(scenario()) == "again"
    assert delivered == ["new", "form", "again"]


def test_a_result_for_a_widget_that_is_gone_is_dropped(qloop, ui_run, shown):
    widget = QWidget()
    release = threading.Event()
    delivered: list[str] = []

    def slow() -> str:
        release.wait(10)
        return "late"

    def failing() -> None:
        release.wait(10)
        raise ValueError("nobody to tell")

    async def scenario():
        answer = ops.query(widget, "x", slow, on_done=delivered.append)
        failure = ops.change(widget, failing)
        shiboken6.delete(widget)  # the window was closed meanwhile
        release.set()
        return await answer, await failure

    assert ui_run(scenario()) == (None, None)
    assert delivered == [] and shown == []


def test_changes_apply_in_order_and_report_failure_as_one_sentence(qloop, ui_run, owner, shown):
    applied: list[int] = []
    threads: set[str] = set()
    failures: list[ops.Failure] = []

    def apply(number: int) -> int:
        threads.add(threading.current_thread().name)
        applied.append(number)
        return number

    def refuse() -> None:
        raise ValueError("A project needs a name.")

    def crash() -> None:
        raise KeyError("bug")

    async def scenario():
        for number in range(20):
            ops.change(owner, lambda n=number: apply(n))
        await ops.change(owner, refuse, on_error=failures.append)
        await ops.change(owner, crash)  # no handler: a message box says it
        await ops.change(owner, refuse)

    ui_run(scenario())
    assert applied == list(range(20))
    assert threading.main_thread().name not in threads
    assert [f.text for f in failures] == ["A project needs a name."]
    assert isinstance(failures[0].error, ValueError)
    assert shown == ["Something went wrong: KeyError: 'bug'", "A project needs a name."]


def test_database_work_runs_on_the_database_thread_and_async_work_on_the_loop(qloop, ui_run, owner, services):
    seen: dict[str, str] = {}

    def read() -> list:
        seen["work"] = threading.current_thread().name
        return services.store.projects()

    async def on_the_loop() -> str:
        return threading.current_thread().name

    async def scenario():
        with DatabaseThreads(services.db) as threads:
            await ops.change(owner, lambda: services.store.create_project("Kept"))
            projects = await ops.query(owner, "projects", read)
            loop_thread = await ops.query(owner, "loop", on_the_loop)
        return projects, loop_thread, threads

    projects, loop_thread, threads = ui_run(scenario())
    assert [p.name for p in projects] == ["Kept"]
    assert loop_thread == threading.main_thread().name
    assert seen["work"] != threading.main_thread().name and not seen["work"].startswith("dataelan-db")
    assert threads.gui_waits == [] and threads.sql_threads
    assert threads.off_the_database_thread() == []


def test_long_work_reports_progress_on_the_gui_thread_and_can_be_cancelled(qloop, ui_run, owner):
    reports: list[tuple[int, str]] = []
    started, stopped = threading.Event(), threading.Event()

    def long_work(progress: ops.Progress) -> str:
        step = 0
        while not progress.cancelled and step < 100_000:
            step += 1
            progress.report(step)
            started.set()
            threading.Event().wait(0.001)
        stopped.set()
        return "finished"

    def on_progress(step: int) -> None:
        reports.append((step, threading.current_thread().name))

    async def scenario():
        op = ops.change(
            owner, long_work, on_done=lambda _r: reports.append((-1, "done")), on_progress=on_progress
        )
        await wait_until(lambda: len(reports) >= 3, message="progress")
        op.cancel()
        await wait_until(stopped.is_set, message="the work noticed the cancel")
        return await op

    assert ui_run(scenario()) is None
    assert reports and all(thread == threading.main_thread().name for _step, thread in reports)
    assert (-1, "done") not in reports


def test_a_failure_while_showing_a_result_is_reported(qloop, ui_run, owner, shown, caplog):
    """A bug in a view's callback is logged and shown to the person instead of vanishing."""

    def broken_view(_result: int) -> None:
        raise RuntimeError("the view broke")

    async def answer() -> int:
        return 42

    async def scenario():
        await ops.query(owner, "answer", answer, on_done=broken_view)

    ui_run(scenario())
    assert shown == ["Something went wrong: RuntimeError: the view broke"]
    assert "showing the result of an operation failed" in caplog.text
