"""Tools → Workflows, driven as a person would: edit with validation as you type, the graph, a run
streaming into the run view, a human step answered in the window, cancel and resume, re-run from a
step, export, and the final output opened as a conversation."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QPlainTextEdit

from dataelan_desktop.core.connections.store import save_provider
from tests.support.db_threads import DatabaseThreads
from tests.support.fake_openai import fake_openai_server, openai_stream
from tests.ui.conftest import wait_until

FLOW = """\
name: Window flow
model: fake:m
inputs:
  topic: {type: string}
  shout: {type: boolean, default: false}
steps:
  - {id: draft, kind: llm, prompt: "draft {{inputs.topic}}"}
  - {id: check, kind: human, prompt: "Good?", draft: "{{draft}}"}
  - {id: out, kind: output, value: "{{check}}"}
"""


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _prompt(request) -> str:
    return request.body["messages"][-1]["content"]


def _type_yaml(qtbot, editor: QPlainTextEdit, text: str) -> None:
    editor.selectAll()
    editor.insertPlainText(text)  # as a paste; validation waits for the pause after it


def test_edit_validate_run_answer_and_open_as_conversation(
    window, qtbot, ui_run, services, monkeypatch, tmp_path
):
    server = fake_openai_server()
    server.default = lambda r: openai_stream([f"<{w}> " for w in _prompt(r).split()], delay=0.02)
    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    try:
        window.findChild(QAction, "workflowsAction").trigger()
        win = window.workflows_window
        assert win.isVisible() and win.windowTitle() == "Workflows"

        async def scenario():
            await wait_until(lambda: win.list.count() >= 6, message="the shipped examples listed")
            _click(qtbot, win.new_button)
            _type_yaml(qtbot, win.editor, FLOW.replace("{{draft}}", "{{drafty}}"))
            await wait_until(
                lambda: "refers to 'drafty'" in win.error_label.text(), message="checked as typed"
            )
            assert (
                win.error_label.text()
                == "Line 8, step 'check': refers to 'drafty', which is not a step of this workflow"
            )
            assert not win.run_panel.run_button.isEnabled()
            _type_yaml(qtbot, win.editor, FLOW)
            await wait_until(lambda: win.error_label.text().startswith("OK: 3 steps"), message="valid")
            assert sorted(win.graph.boxes) == ["check", "draft", "out"]
            assert win.graph.edges == [("draft", "check"), ("check", "out")]
            assert list(win.run_panel.inputs.fields) == ["topic", "shout"]
            _click(qtbot, win.save_button)
            await wait_until(
                lambda: "Saved “Window flow” (version 1)" in win.error_label.text(), message="saved"
            )
            await wait_until(
                lambda: any("Window flow" in win.list.item(i).text() for i in range(win.list.count()))
            )

            qtbot.keyClicks(win.run_panel.inputs.fields["topic"], "owls")
            _click(qtbot, win.run_panel.run_button)
            await wait_until(
                lambda: "<draft>" in win.run_panel.output.toPlainText(), message="the draft streams"
            )
            assert win.graph.statuses["draft"] == "running"
            await wait_until(lambda: win.run_panel.answer.isVisible(), message="the human step asks")
            assert win.graph.statuses["draft"] == "complete" and win.graph.statuses["check"] == "waiting"
            assert win.run_panel.answer.answer.toPlainText() == "<draft> <owls> "
            win.run_panel.answer.answer.setPlainText("Owls are great.")
            _click(qtbot, win.run_panel.answer.send_button)
            await wait_until(lambda: win.run_panel.status.text() == "Complete.", message="the run ends")
            assert win.run_panel.outputs.toPlainText() == "Owls are great."
            assert win.graph.statuses["out"] == "complete"
            steps = [
                win.run_panel.steps.topLevelItem(i).text(0)
                for i in range(win.run_panel.steps.topLevelItemCount())
            ]
            assert steps == ["draft", "check", "out"]
            draft_row = win.run_panel.steps.topLevelItem(0)
            assert draft_row.text(1) == "complete" and draft_row.text(2) == "fake:m"
            assert draft_row.text(3) == "7 → 2" and draft_row.text(4).endswith(" s")  # live measurements
            assert "first token" in draft_row.text(5)  # the same stats line as chat and the tester

            win.tabs.setCurrentWidget(win.history)
            await wait_until(
                lambda: (
                    win.history.runs.topLevelItemCount() == 1
                    and win.history.runs.topLevelItem(0).text(1) == "complete"
                ),
                message="the finished run in the history",
            )
            md = tmp_path / "run.md"
            monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(md), ""))
            _click(qtbot, win.history.markdown_button)
            await wait_until(md.exists, message="exported")
            assert "# Window flow (version 1)" in md.read_text() and "Owls are great." in md.read_text()
            js = tmp_path / "run.json"
            monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(js), ""))
            _click(qtbot, win.history.json_button)
            await wait_until(js.exists, message="exported as JSON")
            assert json.loads(js.read_text())["outputs"] == {"out": "Owls are great."}

            _click(qtbot, win.history.chat_button)
            await wait_until(lambda: window.conversation_id is not None, message="opened as a conversation")
            shown = services.store.visible_messages(window.conversation_id)
            assert [m.role for m in shown] == ["user", "assistant"]
            assert shown[1].content == "Owls are great." and shown[1].model == "fake:m"
            assert "Window flow" in shown[0].content and "topic: owls" in shown[0].content

        ui_run(scenario())
    finally:
        server.stop()


CHAIN = """\
name: Slow chain
model: fake:m
inputs:
  topic: {type: string, default: cats}
steps:
  - {id: one, kind: llm, prompt: "one {{inputs.topic}}"}
  - {id: two, kind: llm, prompt: "two {{one}}"}
  - {id: out, kind: output, value: "{{two}}"}
"""


def test_cancel_then_resume_and_rerun_from_a_step(window, qtbot, ui_run, services):
    server = fake_openai_server()
    slow = {"on": True}

    def reply(request):
        prompt = _prompt(request)
        if prompt.startswith("two") and slow["on"]:
            return openai_stream([f"w{i} " for i in range(300)], delay=0.02)
        return openai_stream([f"<{prompt}>"])

    server.default = reply
    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    try:
        window.findChild(QAction, "workflowsAction").trigger()
        win = window.workflows_window

        async def scenario():
            _click(qtbot, win.new_button)
            _type_yaml(qtbot, win.editor, CHAIN)
            await wait_until(lambda: win.error_label.text().startswith("OK"), message="valid")
            _click(qtbot, win.save_button)
            await wait_until(
                lambda: win.error_label.text().startswith("Saved “Slow chain” (version 1): 3 steps")
            )
            _click(qtbot, win.run_panel.run_button)
            await wait_until(
                lambda: (
                    "w3" in win.run_panel.output.toPlainText() or win.graph.statuses.get("two") == "running"
                )
            )
            await wait_until(lambda: win.graph.statuses.get("two") == "running", message="two streams")
            _click(qtbot, win.run_panel.cancel_button)
            await wait_until(lambda: win.run_panel.status.text().startswith("Cancelled"), message="cancelled")
            asked = len(server.posts())

            slow["on"] = False
            win.tabs.setCurrentWidget(win.history)
            await wait_until(
                lambda: win.history.runs.topLevelItemCount() == 1 and win.history.resume_button.isEnabled()
            )
            assert win.history.runs.topLevelItem(0).text(1) == "cancelled"
            _click(qtbot, win.history.resume_button)
            await wait_until(lambda: win.run_panel.status.text() == "Complete.", message="resumed to the end")
            assert win.run_panel.outputs.toPlainText() == "<two <one cats>>"
            assert [_prompt(r) for r in server.posts()[asked:]] == [
                "two <one cats>"
            ]  # one was not asked again

            win.run_panel.inputs.fields["topic"].setText("dogs")
            win.tabs.setCurrentWidget(win.history)
            await wait_until(lambda: win.history.runs.topLevelItemCount() == 1)
            win.history.step_choice.setCurrentText("one")
            _click(qtbot, win.history.rerun_button)
            await wait_until(lambda: win.run_panel.status.text() == "Complete.", message="re-run")
            await wait_until(lambda: win.run_panel.outputs.toPlainText() == "<two <one dogs>>")
            await wait_until(
                lambda: win.history.runs.topLevelItemCount() == 2, message="a new run in the history"
            )

            _click(qtbot, win.history.open_button)  # reopen the newest run
            await wait_until(lambda: win.run_panel.status.text().startswith("Run "), message="reopened")
            assert win.graph.statuses == {"one": "complete", "two": "complete", "out": "complete"}

        with DatabaseThreads(services.db) as threads:  # the window never waits on SQLite
            ui_run(scenario())
        assert threads.gui_waits == [] and threads.off_the_database_thread() == []
        assert len(threads.sql_threads) > 20
    finally:
        server.stop()


def test_closing_with_unsaved_yaml_asks_first(window, qtbot, ui_run, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window.findChild(QAction, "workflowsAction").trigger()
    win = window.workflows_window
    asked: list[str] = []
    answer = {"value": QMessageBox.StandardButton.No}

    def question(_parent, _title, text, *args, **kwargs):
        asked.append(text)
        return answer["value"]

    monkeypatch.setattr(QMessageBox, "question", question)

    async def scenario():
        _click(qtbot, win.new_button)
        _type_yaml(qtbot, win.editor, CHAIN)
        win.close()
        assert win.isVisible() and asked == ["Discard the changes to this workflow?"]  # kept open, text kept
        assert win.editor.toPlainText() == CHAIN
        answer["value"] = QMessageBox.StandardButton.Yes
        win.close()
        assert not win.isVisible()

    ui_run(scenario())


def test_a_run_cut_off_last_time_is_said_when_the_window_opens(qloop, qtbot, ui_run, services, qsettings):
    import socket

    from dataelan_desktop.core.workflows import open_store
    from dataelan_desktop.core.workflows.load import load
    from dataelan_desktop.ui.main.window import MainWindow

    store = open_store(services)
    gone = f"{socket.gethostname()}:999999"  # the process that ran it ended (a crash, a killed command)
    run_id = store.create_run(load(FLOW), FLOW, {"topic": "tides"}, gone)
    services.bus.bind_loop(qloop)
    window = MainWindow(services, settings=qsettings, probe_servers=False)
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        await wait_until(lambda: "cut off" in window.statusBar().currentMessage(), 10, "the notice")
        assert "1 workflow run was cut off" in window.statusBar().currentMessage()
        assert "Ctrl+Shift+W" in window.statusBar().currentMessage()
        assert store.run(run_id).status == "interrupted"  # and marked so: Resume is offered there

    try:
        ui_run(scenario())
    finally:
        window.close()


def test_a_run_waiting_for_an_answer_is_resumed_and_answered_in_the_window(window, qtbot, ui_run, services):
    from dataelan_desktop.core.workflows import open_store
    from dataelan_desktop.core.workflows.engine import WorkflowEngine

    server = fake_openai_server()
    server.default = lambda r: openai_stream([f"<{_prompt(r)}>"])
    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    store = open_store(services)
    saved = store.save(FLOW)
    # asked earlier with nobody to answer (the command line at end of input, or the app closed)
    waiting = ui_run(
        WorkflowEngine(store, services.registry).start(FLOW, {"topic": "owls"}, workflow_id=saved.id)
    )
    assert waiting.status == "waiting"
    try:
        window.findChild(QAction, "workflowsAction").trigger()
        win = window.workflows_window

        async def scenario():
            await wait_until(
                lambda: any("Window flow" in win.list.item(i).text() for i in range(win.list.count()))
            )
            (row,) = [i for i in range(win.list.count()) if "Window flow" in win.list.item(i).text()]
            win.list.setCurrentRow(row)
            win.tabs.setCurrentWidget(win.history)
            await wait_until(
                lambda: win.history.runs.topLevelItemCount() == 1 and win.history.resume_button.isEnabled(),
                message="the waiting run in the history",
            )
            assert win.history.runs.topLevelItem(0).text(1) == "waiting"
            _click(qtbot, win.history.resume_button)
            await wait_until(lambda: win.run_panel.answer.isVisible(), message="the question asked again")
            assert "Good?" in win.run_panel.answer.question.text()
            assert win.run_panel.answer.answer.toPlainText() == "<draft owls>"  # the recorded draft
            win.run_panel.answer.answer.setPlainText("Yes.")
            _click(qtbot, win.run_panel.answer.send_button)
            await wait_until(lambda: win.run_panel.status.text() == "Complete.", message="the run ends")
            assert win.run_panel.outputs.toPlainText() == "Yes."
            assert len(server.posts()) == 1  # the draft was not written again

        ui_run(scenario())
    finally:
        server.stop()


def test_a_long_chain_is_drawn_whole_in_a_narrow_pane(qtbot):
    """A five-step chain in the editor's narrow graph pane: every box is inside the visible area
    (it was drawn at full size, the last steps hidden behind a scroll bar); a short one is not enlarged."""
    from dataelan_desktop.ui.workflows.graph_view import WorkflowGraph

    graph = WorkflowGraph()
    qtbot.addWidget(graph)
    graph.resize(360, 300)
    graph.show()
    qtbot.waitExposed(graph)
    ids = ["a", "b", "c", "d", "e"]
    graph.show_graph([(i, "llm") for i in ids], {b: [a] for a, b in zip(ids, ids[1:], strict=False)})
    port = graph.viewport().rect()
    for sid, box in graph.boxes.items():
        shown = graph.mapFromScene(box.rect()).boundingRect()
        assert port.contains(shown), f"{sid} is outside the pane: {shown} not in {port}"
    graph.show_graph([("only", "output")], {})
    assert graph.transform().m11() == 1.0


def test_the_other_windows_close_with_the_main_window(window, qtbot, ui_run, monkeypatch):
    """Closing the main window closes the app's other windows (the app would otherwise go on running
    behind a forgotten Workflows window), but unsaved YAML still asks first and can keep both open;
    asking for the tester again brings the open one forward instead of replacing it."""
    from PySide6.QtWidgets import QMessageBox

    answer = {"value": QMessageBox.StandardButton.No}
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: answer["value"])

    async def scenario():
        window.open_tester()
        tester = window.tester
        tester.compare_tab.prompt.setPlainText("a prompt in progress")
        window.open_tester()
        assert window.tester is tester and tester.compare_tab.prompt.toPlainText() == "a prompt in progress"
        window.findChild(QAction, "workflowsAction").trigger()
        flows = window.workflows_window
        _click(qtbot, flows.new_button)
        _type_yaml(qtbot, flows.editor, CHAIN)
        window.close()
        assert window.isVisible() and flows.isVisible() and tester.isVisible()  # "discard?" No: none closed
        answer["value"] = QMessageBox.StandardButton.Yes
        window.close()
        assert not window.isVisible() and not flows.isVisible() and not tester.isVisible()

    ui_run(scenario())
