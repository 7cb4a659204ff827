"""Agents in the real window: the composer's agent picker, the approval dialog (tool, source,
pretty JSON arguments; Allow once / Always allow / Deny), and each tool call as a collapsible block."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from dataelan_desktop.core.agents.service import agent_store
from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.ui.agents.approval_dialog import ApprovalDialog
from dataelan_desktop.ui.agents.tool_block import ToolCallBlock
from tests.support.fake_openai import openai_stream
from tests.support.fake_tools import checked_openai, openai_tool_calls
from tests.ui.conftest import wait_until


def open_dialog() -> ApprovalDialog | None:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, ApprovalDialog) and w.isVisible()]
    return found[0] if found else None


def blocks(window) -> list[ToolCallBlock]:
    return [w for w in window.chat_view.shown_widgets() if isinstance(w, ToolCallBlock)]


def send_text(qtbot, window, text: str) -> None:
    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, text)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return)


def test_an_agent_asks_before_writing_and_shows_each_call(window, qtbot, ui_run, services, server, tmp_path):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    writer = agent_store(services).add(
        "Writer", model="fakeai:gpt-4o-mini", tools=[f"files:{tmp_path}", "calc"]
    )

    async def scenario():
        window.chat.refresh_agents()
        await wait_until(lambda: window.composer.agent_picker.findText("Writer") > 0, message="agent listed")
        window.composer.agent_picker.setCurrentIndex(window.composer.agent_picker.findText("Writer"))
        window.composer.set_model("fakeai:gpt-4o-mini")
        server.push(
            openai_tool_calls([
                ("c1", "calculator", '{"expression": "2+2"}'),
                ("c2", "write_file", '{"path": "plan.md", "content": "# Four"}'),
            ]),
            checked_openai(openai_stream(["Saved ", "plan.md."])),
        )  # fmt: skip
        send_text(qtbot, window, "Write the plan")
        dialog = await wait_until(open_dialog, message="the approval dialog")
        assert "write_file" in dialog.question.text() and "builtin" in dialog.question.text()
        assert json.loads(dialog.arguments.toPlainText()) == {"content": "# Four", "path": "plan.md"}
        assert dialog.arguments.toPlainText().startswith("{\n  ")  # pretty JSON
        assert not dialog.always_button.isVisible()  # writing a file asks every time
        assert window.composer.stop_button.isVisible()  # the run is on; the window still answers
        qtbot.mouseClick(dialog.allow_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(blocks(window)) == 2 and not window.chat.busy(), message="run done")
        await wait_until(lambda: window.chat_view.views()[-1].content == "Saved plan.md.", message="answer")
        assert (tmp_path / "plan.md").read_text() == "# Four"
        calc, write = blocks(window)
        assert (
            calc.title.text().startswith("🔧 calculator · builtin")
            and "allowed by the agent's policy" in calc.title.text()
        )
        assert "allowed once by you" in write.title.text()
        assert not write.details.isVisible()
        qtbot.mouseClick(write.toggle, Qt.MouseButton.LeftButton)
        assert write.expanded and "Wrote 6 bytes" in write.result.toPlainText()
        assert json.loads(write.arguments.toPlainText())["path"] == "plan.md"
        assert window.composer.send_button.isVisible()
        assert services.store.conversation(window.chat.conversation_id).agent_id == writer.id

    ui_run(scenario())


def test_always_allow_and_deny_from_the_dialog(window, qtbot, ui_run, services, server):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    agents = agent_store(services)
    agent = agents.add("Asker", model="fakeai:gpt-4o-mini", tools=["calc", "time"],
                       policies={"calculator": "ask", "current_time": "ask"})  # fmt: skip

    async def scenario():
        window.chat.refresh_agents()
        await wait_until(lambda: window.composer.agent_picker.findText("Asker") > 0, message="agent listed")
        window.composer.agent_picker.setCurrentIndex(window.composer.agent_picker.findText("Asker"))
        window.composer.set_model("fakeai:gpt-4o-mini")
        server.push(
            openai_tool_calls([("a", "calculator", '{"expression": "1+1"}'), ("b", "calculator", '{"expression": "2+2"}'),
                               ("t", "current_time", "{}")]),
            checked_openai(openai_stream(["Done."])),
        )  # fmt: skip
        send_text(qtbot, window, "Compute")
        first = await wait_until(open_dialog, message="first approval")
        assert "calculator" in first.question.text()
        qtbot.mouseClick(first.always_button, Qt.MouseButton.LeftButton)
        second = await wait_until(lambda: (d := open_dialog()) and "current_time" in d.question.text() and d,
                                  message="the next tool asks; the same tool does not")  # fmt: skip
        qtbot.keyClick(second, Qt.Key.Key_Escape)  # closing the dialog denies
        await wait_until(lambda: len(blocks(window)) == 3 and not window.chat.busy(), message="run done")
        titles = [b.title.text() for b in blocks(window)]
        assert "always allowed by you" in titles[0] and "allowed by the agent's policy" in titles[1]
        assert "denied" in titles[2] and titles[2].endswith("error")
        assert server.posts()[1].body["messages"][-1]["content"] == "Error: The person denied this call."
        assert agents.agent(agent.id).policies["calculator"] == "always"  # remembered for next time

    ui_run(scenario())


def test_stop_while_asking_ends_the_run_and_keeps_everything(
    window, qtbot, ui_run, services, server, tmp_path
):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    agent = agent_store(services).add("Careful", model="fakeai:gpt-4o-mini", tools=[f"files:{tmp_path}"])

    async def scenario():
        window.chat.refresh_agents()
        await wait_until(lambda: window.composer.agent_picker.findText("Careful") > 0, message="agent listed")
        window.composer.agent_picker.setCurrentIndex(window.composer.agent_picker.findText("Careful"))
        window.composer.set_model("fakeai:gpt-4o-mini")
        server.push(openai_tool_calls([("w", "write_file", '{"path": "a.txt", "content": "x"}')]))
        send_text(qtbot, window, "Write a.txt")
        await wait_until(open_dialog, message="the approval dialog")
        qtbot.mouseClick(window.composer.stop_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: open_dialog() is None and not window.chat.busy(), message="stopped")
        await wait_until(lambda: len(blocks(window)) == 1, message="the call's block")
        (block,) = blocks(window)
        assert "not run" in block.title.text() and block.title.text().endswith("error")
        assert window.composer.send_button.isVisible() and not (tmp_path / "a.txt").exists()
        assert len(server.posts()) == 1  # no turn after the stop
        conversation_id = window.chat.conversation_id

        # another conversation shows no agent; coming back shows this one's
        window.composer.set_agent(None)
        other = services.store.create_conversation(title="Other", model="fakeai:gpt-4o-mini")
        window.chat.open(other.id)
        await wait_until(lambda: window.chat.conversation_id == other.id, message="other opened")
        assert window.composer.agent_id() is None
        window.chat.open(conversation_id)
        await wait_until(lambda: window.composer.agent_id() == agent.id, message="its agent shown again")

    ui_run(scenario())


def test_agents_are_made_edited_and_removed_in_their_window(window, qtbot, ui_run, services, tmp_path):
    async def scenario():
        window.findChild(QAction, "agentsAction").trigger()
        editor = window.agents_window
        await wait_until(editor.isVisible, message="the agents window")
        qtbot.keyClicks(editor.name, "Researcher")
        editor.model.setText("openai:gpt-4o-mini")
        editor.tools.setText("calc, nosuchtool")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        assert "Unknown tool 'nosuchtool'" in editor.error.text()  # said; nothing saved
        editor.tools.setText(f"calc, files:{tmp_path}")
        editor.rules.setText("calculator=sometimes")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        assert "is not a rule" in editor.error.text()
        editor.rules.setText("read_file=ask")
        editor.max_steps.setValue(9)
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: editor.list.count() == 1, message="saved and listed")
        saved = agent_store(services).agent("Researcher")
        assert saved.tools == ("calc", f"files:{tmp_path}") and saved.policies == {"read_file": "ask"}
        assert saved.loop_limits.max_steps == 9 and saved.model == "openai:gpt-4o-mini"
        # the composer's picker follows (Changes.agents)
        await wait_until(
            lambda: window.composer.agent_picker.findText("Researcher") > 0, message="in the picker"
        )

        qtbot.mouseClick(editor.new_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(editor.name, "researcher")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "already exists" in editor.error.text(), message="a duplicate name is said")

        editor.list.setCurrentRow(0)
        assert editor.name.text() == "Researcher" and editor.max_steps.value() == 9
        editor.instructions.setPlainText("Cite your notes.")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: agent_store(services).agent("Researcher").instructions == "Cite your notes.",
                         message="edited")  # fmt: skip
        qtbot.mouseClick(editor.delete_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: editor.list.count() == 0, message="removed")
        assert agent_store(services).agents() == []

    ui_run(scenario())


def test_every_limit_is_shown_set_and_kept_by_an_edit_in_the_window(window, qtbot, ui_run, services):
    """Limits set from the CLI (a cent-sized cost, a fractional total time, a result length) survive an
    edit of the instructions in the window, and the longest tool result is set there too."""
    agent_store(services).add(
        "Careful", limits={"max_cost": 0.005, "total_seconds": 90.5, "max_result_chars": 2000}
    )

    async def scenario():
        window.findChild(QAction, "agentsAction").trigger()
        editor = window.agents_window
        await wait_until(lambda: editor.isVisible() and editor.list.count() == 1, message="listed")
        editor.list.setCurrentRow(0)
        assert editor.max_result.value() == 2000  # shown
        editor.instructions.setPlainText("Be brief.")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: agent_store(services).agent("Careful").instructions == "Be brief.", message="edited"
        )
        limits = agent_store(services).agent("Careful").loop_limits
        assert (limits.max_cost, limits.total_seconds, limits.max_result_chars) == (0.005, 90.5, 2000)

        editor.max_result.setValue(300)
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: agent_store(services).agent("Careful").loop_limits.max_result_chars == 300,
            message="the result limit set in the window",
        )

    ui_run(scenario())


def test_an_agent_that_keeps_calling_stops_at_its_step_limit_and_says_so(
    window, qtbot, ui_run, services, server
):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    agent_store(services).add("Looper", model="fakeai:gpt-4o-mini", tools=["calc"], limits={"max_steps": 2})

    async def scenario():
        window.chat.refresh_agents()
        await wait_until(lambda: window.composer.agent_picker.findText("Looper") > 0, message="agent listed")
        window.composer.agent_picker.setCurrentIndex(window.composer.agent_picker.findText("Looper"))
        window.composer.set_model("fakeai:gpt-4o-mini")
        server.push(  # a model that would call the calculator for ever
            *(openai_tool_calls([(f"c{i}", "calculator", '{"expression": "1+1"}')]) for i in range(5))
        )
        send_text(qtbot, window, "Count")
        await wait_until(lambda: len(blocks(window)) == 2 and not window.chat.busy(), message="stopped")
        assert len(server.posts()) == 2  # no third turn
        said = window.statusBar().currentMessage()
        assert said.startswith("Stopped after 2 tool steps: the agent's limit is 2.") and "kept" in said
        assert window.composer.send_button.isVisible()
        # everything so far is kept: both calls and their results are in the conversation
        roles = [m.role for m in services.store.visible_messages(window.chat.conversation_id)]
        assert roles == ["user", "assistant", "tool", "assistant", "tool"]
        # under the last result the view says the agent stopped before answering; not during a run
        note = window.chat_view._unanswered
        await wait_until(lambda: note.isVisible(), message="the stopped-here note")
        assert "stopped here before it answered" in note.text()
        # reopened later (another conversation, then this one): still said, the status bar long gone
        conversation_id = window.chat.conversation_id
        other = services.store.create_conversation(title="Elsewhere")
        window.open_conversation(other.id)
        await wait_until(lambda: not note.isVisible(), message="not under another conversation")
        window.statusBar().clearMessage()
        window.open_conversation(conversation_id)
        await wait_until(lambda: note.isVisible(), message="said again on reopening")

    ui_run(scenario())
