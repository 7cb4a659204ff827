"""What a new user met in the first hour (issue 16, items 1, 2, 5 and the chat/sidebar parts of 10),
driven through the real window as the person did."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt

from dataelan_desktop.core.connections.store import save_provider
from tests.support.fake_openai import openai_stream
from tests.ui.conftest import wait_until


def send_text(qtbot, window, text: str) -> None:
    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, text)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return)


def shown(window) -> list[tuple[str, str]]:
    return [(w.view.role, w.view.content) for w in window.chat_view.shown_widgets()]


def replied(window, text: str):
    return lambda: shown(window) and shown(window)[-1] == ("assistant", text)


def listed_titles(window) -> list[str]:
    return [item.text(0) for item in window.sidebar.conversation_items()]


def selected_id(window) -> str | None:
    item = window.sidebar.tree.currentItem()
    return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None


def test_a_projects_default_model_is_picked_shown_and_answers(window, qtbot, ui_run, services, server):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    project = services.store.create_project("Research", default_model="fakeai:project-model")

    async def scenario():
        window.composer.set_model("fakeai:left-in-picker")
        # New project → (default model set) → "New conversation here"
        window.sidebar.new_conversation_requested.emit(project.id)
        await wait_until(lambda: window.conversation_id is not None, message="a new conversation")
        await wait_until(
            lambda: window.composer.model_picker.currentText() == "fakeai:project-model",
            message="the project's model in the picker",
        )
        server.push(openai_stream(["From ", "the project model"]))
        send_text(qtbot, window, "Which model are you?")
        await wait_until(replied(window, "From the project model"), message="the reply")
        assert server.posts()[-1].body["model"] == "project-model"
        first = window.conversation_id
        assert services.store.conversation(first).model == "fakeai:project-model"

        # the person may still choose another model before sending; the reply comes from it
        window.sidebar.new_conversation_requested.emit(project.id)
        await wait_until(lambda: window.conversation_id not in (None, first), message="a second one")
        await wait_until(
            lambda: window.composer.model_picker.currentText() == "fakeai:project-model",
            message="the project's model again",
        )
        window.composer.set_model("fakeai:chosen")
        server.push(openai_stream(["From ", "the chosen one"]))
        send_text(qtbot, window, "And now?")
        await wait_until(replied(window, "From the chosen one"), message="the chosen model's reply")
        assert server.posts()[-1].body["model"] == "chosen"
        assert services.store.conversation(window.conversation_id).model == "fakeai:chosen"

        # opening the first conversation again puts its own model back in the picker
        window.sidebar.conversation_selected.emit(first)
        await wait_until(
            lambda: window.composer.model_picker.currentText() == "fakeai:project-model",
            message="the first conversation's model",
        )

    ui_run(scenario())


def test_new_conversations_are_selected_reused_when_empty_and_the_list_keeps_its_order(
    window, qtbot, ui_run, services, server, monkeypatch
):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    window.composer.set_model("fakeai:m")

    async def scenario():
        for question in ("Older question", "Newer question"):
            qtbot.mouseClick(window.sidebar.new_chat, Qt.MouseButton.LeftButton)
            await wait_until(
                lambda: window.conversation_id is not None and shown(window) == [], message="empty chat"
            )
            # the new conversation is the selected row of the sidebar
            await wait_until(
                lambda: selected_id(window) == window.conversation_id, message="new conversation selected"
            )
            server.push(openai_stream(["Answer"]))
            send_text(qtbot, window, question)
            await wait_until(replied(window, "Answer"), message="answer")
        await wait_until(
            lambda: listed_titles(window) == ["Newer question", "Older question"], message="newest first"
        )

        # pressing New chat three times leaves one empty "New conversation" row, not three
        for _ in range(3):
            qtbot.mouseClick(window.sidebar.new_chat, Qt.MouseButton.LeftButton)
            await wait_until(lambda: shown(window) == [], message="an empty conversation shown")
        await wait_until(
            lambda: listed_titles(window) == ["New conversation", "Newer question", "Older question"],
            message="one empty row",
        )

        # renaming the older conversation does not move it up: the list orders by last message
        older = next(i for i in window.sidebar.conversation_items() if i.text(0) == "Older question")
        older_id = older.data(0, Qt.ItemDataRole.UserRole)
        window.library.update_conversation(older_id, title="Older, renamed")
        await wait_until(lambda: "Older, renamed" in listed_titles(window), message="renamed")
        assert listed_titles(window) == ["New conversation", "Newer question", "Older, renamed"]

    ui_run(scenario())


def test_switching_back_to_a_question_shows_the_reply_chosen_there(
    window, qtbot, ui_run, services, server, monkeypatch
):
    from PySide6.QtWidgets import QInputDialog

    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    window.composer.set_model("fakeai:m")

    def user_widget():
        return [w for w in window.chat_view.shown_widgets() if w.view.role == "user"][-1]

    def reply_widget():
        return [w for w in window.chat_view.shown_widgets() if w.view.role == "assistant"][-1]

    async def scenario():
        server.push(openai_stream(["First ", "reply"]))
        send_text(qtbot, window, "Question")
        await wait_until(replied(window, "First reply"), message="first reply")
        server.push(openai_stream(["Second ", "reply"]))
        qtbot.mouseClick(reply_widget().regenerate_button, Qt.MouseButton.LeftButton)
        await wait_until(replied(window, "Second reply"), message="regenerated")
        # the person goes back to the first reply: it is the one chosen under this question
        qtbot.mouseClick(reply_widget().prev_branch, Qt.MouseButton.LeftButton)
        await wait_until(replied(window, "First reply"), message="back to the first reply")

        # an edited question is a second branch, with its own reply
        server.push(openai_stream(["Edited ", "reply"]))
        monkeypatch.setattr(
            QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("Question, edited", True))
        )
        qtbot.mouseClick(user_widget().edit_button, Qt.MouseButton.LeftButton)
        await wait_until(replied(window, "Edited reply"), message="edited branch")

        # back to the original question: its reply is the one last chosen there, not the newest
        qtbot.mouseClick(user_widget().prev_branch, Qt.MouseButton.LeftButton)
        await wait_until(lambda: user_widget().view.content == "Question", message="original question")
        await wait_until(replied(window, "First reply"), message="the reply chosen before")
        assert shown(window)[-2:] == [("user", "Question"), ("assistant", "First reply")]

    ui_run(scenario())


def test_archive_offers_undo_an_archived_view_and_unarchive(window, qtbot, ui_run, services, server):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    window.composer.set_model("fakeai:m")

    async def scenario():
        server.push(openai_stream(["Tides ", "come from the moon"]))
        send_text(qtbot, window, "Why are there tides?")
        await wait_until(replied(window, "Tides come from the moon"), message="reply")
        await wait_until(lambda: listed_titles(window) == ["Why are there tides?"], message="listed")
        conversation_id = window.conversation_id

        # Archive (the row's menu): gone from the list, with Undo in the status bar
        window.sidebar.archive_requested.emit(conversation_id)
        await wait_until(lambda: listed_titles(window) == [], message="archived out of the list")
        await wait_until(lambda: window.undo_button.isVisible(), message="Undo offered")
        assert "archived" in window.statusBar().currentMessage()
        qtbot.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: listed_titles(window) == ["Why are there tides?"], message="undone")

        # archived again, it is found in the Archived view, opened, and unarchived from there
        window.sidebar.archive_requested.emit(conversation_id)
        await wait_until(lambda: listed_titles(window) == [], message="archived again")
        qtbot.mouseClick(window.sidebar.archived_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: [i.text() for i in window.sidebar.archived_items()] == ["Why are there tides?"],
            message="the archived view lists it",
        )
        assert window.sidebar.stack.currentWidget() is window.sidebar.archived
        archived_list = window.sidebar.archived
        row = archived_list.visualItemRect(window.sidebar.archived_items()[0]).center()
        qtbot.mouseClick(archived_list.viewport(), Qt.MouseButton.LeftButton, pos=row)
        await wait_until(lambda: window.archived_bar.isVisible(), message="the archived bar")
        qtbot.mouseClick(window.archived_bar.unarchive_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: not window.archived_bar.isVisible(), message="unarchived")
        await wait_until(lambda: window.sidebar.archived_items() == [], message="the archived view empties")
        qtbot.mouseClick(window.sidebar.archived_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: listed_titles(window) == ["Why are there tides?"], message="back in the list"
        )

        # search finds an archived conversation, opens it, and it can be unarchived there
        window.sidebar.archive_requested.emit(conversation_id)
        await wait_until(lambda: listed_titles(window) == [], message="archived a third time")
        window.sidebar.search.setText("tides")
        await wait_until(
            lambda: (
                window.sidebar.results.count()
                and window.sidebar.results.item(0).data(Qt.ItemDataRole.UserRole)
            ),
            message="a hit",
        )
        assert window.sidebar.results.item(0).text().startswith("Why are there tides? (archived)\n")
        qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Return)
        await wait_until(lambda: window.archived_bar.isVisible(), message="archived bar after search")
        qtbot.mouseClick(window.archived_bar.unarchive_button, Qt.MouseButton.LeftButton)
        window.sidebar.search.clear()
        await wait_until(
            lambda: listed_titles(window) == ["Why are there tides?"], message="unarchived again"
        )

    ui_run(scenario())


def test_window_settings_live_in_each_data_folder(qloop, qtbot, ui_run, tmp_path, monkeypatch):
    """Two data folders: each keeps its own last conversation and theme; a remembered conversation that
    is gone is passed over without an error."""
    import logging

    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    def open_window(home):
        monkeypatch.setenv("DATAELAN_HOME", str(home))
        services = build_services()
        services.bus.bind_loop(qloop)
        win = MainWindow(services, probe_servers=False)  # its own settings, as the app makes them
        qtbot.addWidget(win)
        win.show()
        return services, win

    def close(services, win):
        win.close()
        qloop.run_until_complete(services.registry.aclose())
        services.close()

    first_home, second_home = tmp_path / "first", tmp_path / "second"
    errors: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = errors.append
    logging.getLogger().addHandler(handler)
    try:
        services, win = open_window(first_home)
        kept = services.store.create_conversation(title="Kept in the first folder")
        gone = services.store.create_conversation(title="Deleted later")
        win.open_conversation(kept.id)
        ui_run(wait_until(lambda: win.conversation_id == kept.id, message="opened"))
        win.settings.setValue("appearance/theme", "dark")
        close(services, win)
        assert (first_home / "window.ini").is_file()
        assert (
            QSettings(str(first_home / "window.ini"), QSettings.Format.IniFormat).value(
                "session/last_conversation"
            )
            == kept.id
        )

        # a second data folder starts afresh: not the first one's conversation or theme
        services, win = open_window(second_home)
        ui_run(wait_until(lambda: win.library.listed_once.is_set(), message="listed"))
        assert win.conversation_id is None
        assert win.settings.value("appearance/theme", "system") == "system"
        close(services, win)

        # the first folder again: its conversation comes back
        services, win = open_window(first_home)
        ui_run(wait_until(lambda: win.conversation_id == kept.id, message="reopened"))
        assert win.title.text() == "Kept in the first folder"
        win.open_conversation(gone.id)
        ui_run(wait_until(lambda: win.conversation_id == gone.id, message="the other one"))
        close(services, win)
        services = build_services()
        services.store.delete_conversation(gone.id)
        services.close()

        # the remembered conversation was deleted meanwhile: nothing shown, nothing said, nothing logged
        services, win = open_window(first_home)
        ui_run(wait_until(lambda: win.library.listed_once.is_set(), message="listed"))
        ui_run(
            wait_until(lambda: win.settings.value("session/last_conversation") is None, message="forgotten")
        )
        assert win.conversation_id is None
        close(services, win)
    finally:
        logging.getLogger().removeHandler(handler)
    assert [r.getMessage() for r in errors] == []


def test_continue_in_chat_switches_the_main_window_to_the_conversation(
    window, qtbot, ui_run, services, two_servers
):
    other = services.store.create_conversation(title="Something else")

    async def scenario():
        window.open_conversation(other.id)
        await wait_until(lambda: window.conversation_id == other.id, message="another conversation shown")
        window.open_tester()
        tester = window.tester
        compare = tester.compare_tab
        compare.columns[0].model.setEditText("one:m")
        compare.columns[1].model.setEditText("two:m")
        qtbot.keyClicks(compare.prompt, "Introduce yourself")
        qtbot.mouseClick(compare.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: compare.columns[0].continue_chat.isEnabled(), message="the run finished")
        qtbot.mouseClick(compare.columns[0].continue_chat, Qt.MouseButton.LeftButton)
        # the main window shows the new conversation: the prompt and that column's reply, its model picked
        await wait_until(lambda: window.conversation_id not in (None, other.id), message="switched")
        await wait_until(lambda: len(shown(window)) == 2, message="its messages")
        assert shown(window)[0] == ("user", "Introduce yourself")
        assert shown(window)[1][1] == compare.columns[0].output.toPlainText()
        assert window.title.text() == "Introduce yourself"
        await wait_until(
            lambda: selected_id(window) == window.conversation_id, message="selected in the list"
        )
        tester.close()

    ui_run(scenario())
    ui_run(services.registry.aclose())


def test_a_model_file_opened_in_a_project_answers_there_not_the_projects_default(
    window, ui_run, services, tiny_gguf
):
    project = services.store.create_project("Research", default_model="fakeai:project-model")

    async def scenario():
        await wait_until(lambda: window.sidebar.tree.topLevelItemCount() == 2, message="the project listed")
        window.sidebar.tree.setCurrentItem(window.sidebar.tree.topLevelItem(1))
        window.use_local_model(tiny_gguf)
        await wait_until(lambda: window.conversation_id is not None, message="a new conversation")
        await wait_until(lambda: window.composer.model() == f"local:{tiny_gguf}", message="the file picked")
        conversation = services.store.conversation(window.conversation_id)
        assert conversation.project_id == project.id and conversation.model == f"local:{tiny_gguf}"

    ui_run(scenario())


def test_a_damaged_window_ini_still_opens_the_window(qloop, qtbot, ui_run, tmp_path, monkeypatch):
    """window.ini is a text file in the data folder that people edit, copy or damage: values of the wrong
    kind (a geometry that is a word, minutes that are not a number, an id that is not one) are passed
    over, and the window opens as on a first start instead of ending in a TypeError."""
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    monkeypatch.setenv("DATAELAN_HOME", str(tmp_path))
    (tmp_path / "window.ini").write_text(
        "[window]\ngeometry=wide\nsplitter=12\n"
        "[models]\nidle_unload_minutes=soon\n"
        "[session]\nlast_conversation=not-an-id\n"
        "[appearance]\ntheme=purple\n"
    )
    services = build_services()
    services.bus.bind_loop(qloop)
    try:
        before = services.registry.local().idle_unload_seconds
        win = MainWindow(services, probe_servers=False)
        qtbot.addWidget(win)
        win.show()
        ui_run(wait_until(lambda: win.library.listed_once.is_set(), message="listed"))
        assert win.isVisible() and win.conversation_id is None
        assert services.registry.local().idle_unload_seconds == before  # "soon" is not a number of minutes
        win.close()
    finally:
        qloop.run_until_complete(services.registry.aclose())
        services.close()
    # closing saved real values over the damaged ones
    from PySide6.QtCore import QByteArray

    saved = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    assert isinstance(saved.value("window/geometry"), QByteArray)
