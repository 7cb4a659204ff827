"""Copy a message, rename a conversation, edit and delete a project: from the window, off its thread.

Each action reads what it shows in its dialog on the database thread (a slow disk must not freeze
the window); the test records the thread of every database call while the person acts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QInputDialog, QMessageBox

from dataelan_desktop.core.agents.service import agent_store
from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.ui.sidebar.project_dialog import NO_AGENT
from tests.support.db_threads import DatabaseThreads
from tests.support.fake_openai import openai_stream
from tests.ui.conftest import wait_until


def test_message_conversation_and_project_actions(window, qtbot, ui_run, services, server, monkeypatch):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    project = services.store.create_project("Research")
    agents = agent_store(services)
    agents.add("Librarian", model="fakeai:m", tools=["calculator"])
    threads = DatabaseThreads(services.db)

    def saved_project():  # the test's own look at the database, not recorded
        with threads.paused():
            return services.store.project(project.id)

    async def scenario():
        # a conversation with one exchange
        server.push(openai_stream(["The ", "answer"]))
        window.composer.set_model("fakeai:m")
        window.composer.editor.setPlainText("The question")
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: [w.view.status for w in window.chat_view.shown_widgets()] == ["complete", "complete"],
            message="the exchange",
        )
        threads.start()  # from here on, the person's actions

        # Copy on the question puts its text on the clipboard
        question, reply = window.chat_view.shown_widgets()
        QGuiApplication.clipboard().clear()
        qtbot.mouseClick(question.copy_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: QGuiApplication.clipboard().text() == "The question", message="copied")
        qtbot.mouseClick(reply.copy_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: QGuiApplication.clipboard().text() == "The answer", message="reply copied")

        # Rename… from the sidebar: the dialog offers the current title, the sidebar shows the new one
        offered: list[str] = []

        def rename_dialog(*_args, text="", **_kw):
            offered.append(text)
            return "Tides, explained", True

        monkeypatch.setattr(QInputDialog, "getText", staticmethod(rename_dialog))
        window.sidebar.rename_requested.emit(window.conversation_id)
        await wait_until(
            lambda: "Tides, explained" in [i.text(0) for i in window.sidebar.conversation_items()],
            message="renamed in the sidebar",
        )
        assert offered == ["The question"]

        # the project's settings, in one dialog: instructions, default model, the agent answering there
        window.sidebar.project_settings_requested.emit(project.id)
        await wait_until(lambda: window.library.project_dialog is not None, message="the settings dialog")
        dialog = window.library.project_dialog
        assert dialog.isVisible() and dialog.name.text() == "Research"
        assert [dialog.agent.itemText(i) for i in range(dialog.agent.count())] == [NO_AGENT, "Librarian"]
        dialog.instructions.setPlainText("Answer briefly.")
        dialog.model.setCurrentText("not a model")
        dialog.agent.setCurrentIndex(dialog.agent.findText("Librarian"))
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)  # fmt: skip
        assert dialog.isVisible() and "is not a model" in dialog.problem.text()  # said, nothing saved
        dialog.model.setCurrentText("fakeai:m")
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)  # fmt: skip
        await wait_until(
            lambda: saved_project().instructions == "Answer briefly.", message="instructions saved"
        )
        assert saved_project().default_model == "fakeai:m"
        with threads.paused():
            assert agents.agent_for_project(project.id).name == "Librarian"  # its new conversations' agent

        # Delete project, confirmed: gone from the sidebar
        asked: list[str] = []

        def confirm(_parent, _title, text, *_a, **_k):
            asked.append(text)
            return QMessageBox.StandardButton.Yes

        monkeypatch.setattr(QMessageBox, "question", staticmethod(confirm))
        window.sidebar.project_delete_requested.emit(project.id)
        await wait_until(
            lambda: all(
                window.sidebar.tree.topLevelItem(i).text(0) != "Research"
                for i in range(window.sidebar.tree.topLevelItemCount())
            ),
            message="project gone from the sidebar",
        )
        assert asked and "“Research”" in asked[0]

    try:
        ui_run(scenario())
    finally:
        threads.stop()
    monkeypatch.undo()
    assert threads.gui_waits == [] and threads.off_the_database_thread() == []  # nothing waited on SQLite
    assert len(threads.callers) >= 6  # and the actions did reach it


def test_a_projects_new_agent_is_picked_in_its_open_conversation(window, qtbot, ui_run, services):
    """Project settings → Agent while one of its conversations is on show: the composer's picker
    follows at once (it answered with no agent a moment before), and back to no agent."""
    project = services.store.create_project("Garden")
    agents = agent_store(services)
    librarian = agents.add("Librarian", model="fakeai:m", tools=["calculator"])
    conversation = services.store.create_conversation(project.id, model="fakeai:m", title="Roses")

    def choose(name: str) -> None:
        dialog = window.library.project_dialog
        dialog.agent.setCurrentIndex(dialog.agent.findText(name))
        qtbot.mouseClick(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)  # fmt: skip

    async def scenario():
        window.open_conversation(conversation.id)
        await wait_until(lambda: window.title.text() == "Roses", message="the conversation")
        await wait_until(lambda: window.composer.agent_picker.findText("Librarian") > 0, message="listed")
        assert window.composer.agent_id() is None
        for name, expected in (("Librarian", librarian.id), (NO_AGENT, None)):
            window.library.project_dialog = None
            window.sidebar.project_settings_requested.emit(project.id)
            await wait_until(lambda: window.library.project_dialog is not None, message="the dialog")
            choose(name)
            await wait_until(
                lambda shown=expected: window.composer.agent_id() == shown, message=f"the picker shows {name}"
            )

    ui_run(scenario())
