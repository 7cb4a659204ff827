"""Prompt templates in the window: the library, inserting one in the composer, the tester's picker and history."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QTextCursor
from PySide6.QtWidgets import QMessageBox

from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.tester.batch import BatchPrompt, BatchRun
from dataelan_desktop.core.tester.history import runs
from tests.support.fake_openai import fake_openai_server, openai_stream
from tests.ui.conftest import wait_until


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _items(list_widget) -> list[str]:
    return [list_widget.item(i).text() for i in range(list_widget.count())]


def test_templates_window_creates_detects_variables_and_refuses_a_duplicate(
    window, qtbot, ui_run, services, monkeypatch
):
    window.findChild(QAction, "templatesAction").trigger()
    library = window.templates_window
    assert library.isVisible() and library.windowTitle() == "Prompt templates"

    async def scenario():
        await wait_until(lambda: "Translate  · built-in" in _items(library.list), message="built-ins listed")
        builtins = library.list.count()
        translate = library.list.findItems("Translate", Qt.MatchFlag.MatchStartsWith)[0]
        library.list.scrollToItem(translate)
        qtbot.mouseClick(
            library.list.viewport(),
            Qt.MouseButton.LeftButton,
            pos=library.list.visualItemRect(translate).center(),
        )
        assert library.name_edit.text() == "Translate" and library.status.text().startswith("Built-in:")

        _click(qtbot, library.new_button)
        qtbot.keyClicks(library.name_edit, "Haiku")
        qtbot.keyClicks(library.category_edit, "poems")
        qtbot.keyClicks(library.body_edit, "Write a haiku about {{topic}} in {{ language | English }}.")
        assert library.variables_label.text() == "Variables: topic, language (default: English)"
        qtbot.keyClicks(library.system_edit, 'You are a {{style|playful}} poet. JSON {"a": 1} stays.')
        assert (
            library.variables_label.text()
            == "Variables: topic, language (default: English), style (default: playful)"
        )
        _click(qtbot, library.save_button)
        await wait_until(lambda: library.status.text() == "Saved “Haiku”.", message="saved")
        await wait_until(lambda: "Haiku" in _items(library.list), message="saved template listed")
        assert library.list.currentItem().text() == "Haiku"
        assert services.templates.get("haiku").system_prompt.startswith("You are a {{style|playful}} poet.")

        # a list refresh that lands after the person clicked New must not put the saved template
        # back over what they are typing: slow the list down so a save's refreshes are still on
        # their way when New is clicked
        listing = services.templates.list

        def slow_list(*args, **kwargs):
            time.sleep(0.2)  # on the database thread
            return listing(*args, **kwargs)

        monkeypatch.setattr(services.templates, "list", slow_list)
        qtbot.keyClicks(library.description_edit, "Short poems")
        _click(qtbot, library.save_button)
        await wait_until(
            lambda: library.status.text() == "Saved “Haiku”." and not library.dirty, message="saved"
        )

        # a name already in use: the message shows in the window and nothing is written
        _click(qtbot, library.new_button)
        qtbot.keyClicks(library.name_edit, "translate")
        qtbot.keyClicks(library.body_edit, "My own translation prompt")
        await asyncio.sleep(1.0)  # the refreshes land
        assert library.name_edit.text() == "translate" and library.current is None
        monkeypatch.setattr(services.templates, "list", listing)
        _click(qtbot, library.save_button)
        await wait_until(library.error_label.isVisible, message="duplicate name error")
        assert "'Translate' already exists" in library.error_label.text()
        assert (
            library.status.text() == "Not saved." and library.name_edit.text() == "translate"
        )  # still typed
        assert services.templates.get("Translate").body.startswith("Translate the text below")
        assert len(services.templates.list()) == builtins + 1

        # the search and the category filter
        qtbot.keyClicks(library.search, "haiku")
        await wait_until(lambda: _items(library.list) == ["Haiku"], message="search narrows the list")
        library.search.clear()
        await wait_until(lambda: library.list.count() == builtins + 1, message="search cleared")
        library.category_filter.setCurrentIndex(library.category_filter.findText("poems"))
        await wait_until(lambda: _items(library.list) == ["Haiku"], message="category filter")

        # leaving unsaved edits asks first; then Duplicate, Delete and Undo
        asked = []
        monkeypatch.setattr(
            QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Discard
        )
        library.list.setCurrentRow(0)
        assert asked == ["Discard your changes to “translate”?"] and library.name_edit.text() == "Haiku"
        _click(qtbot, library.duplicate_button)
        await wait_until(lambda: "Haiku (copy)" in _items(library.list), message="duplicate listed")
        assert library.name_edit.text() == "Haiku (copy)"
        _click(qtbot, library.delete_button)
        await wait_until(lambda: library.status.text() == "Deleted “Haiku (copy)”.", message="deleted")
        await wait_until(lambda: "Haiku (copy)" not in _items(library.list), message="gone from the list")
        assert library.undo_button.isVisible()
        _click(qtbot, library.undo_button)
        await wait_until(lambda: "Haiku (copy)" in _items(library.list), message="undo brings it back")

    ui_run(scenario())


def test_insert_template_into_the_composer(window, qtbot, ui_run, services):
    server = fake_openai_server()
    server.default = openai_stream(["A ", "summary."])
    save_provider(services.db, "fake", base_url=server.base_url + "/v1")
    window.composer.set_model("fake:m")
    insert = window.findChild(QAction, "insertTemplateAction")
    assert insert.shortcut().toString() == "Ctrl+/"

    async def fill(name: str, values: dict[str, str]):
        insert.trigger()
        await wait_until(
            lambda: window.template_inserter.dialog and window.template_inserter.dialog.isVisible()
        )
        dialog = window.template_inserter.dialog
        dialog.picker.setCurrentIndex(dialog.picker.findText(name))
        for variable, value in values.items():
            assert not dialog.ok_button.isEnabled()  # a required variable is still empty
            qtbot.keyClicks(dialog.fields[variable], value)
        assert dialog.ok_button.isEnabled()
        return dialog

    async def scenario():
        dialog = await fill("Translate", {"language": "German", "input": "good morning"})
        assert dialog.preview.toPlainText().startswith("Translate the text below into German.")
        _click(qtbot, dialog.ok_button)
        text = window.composer.editor.toPlainText()
        assert text.startswith("Translate the text below into German.") and text.endswith("good morning")
        assert window.statusBar().currentMessage() == "Inserted the template “Translate”."
        window.composer.editor.clear()

        # a template with a system prompt sets up the new conversation, and the model gets both
        dialog = await fill("Summarise", {"input": "A long story."})
        assert dialog.system_preview.text() == "System prompt: You write faithful, concise summaries."
        assert dialog.fields["length"].text() == "one short paragraph"  # the default, pre-filled
        _click(qtbot, dialog.ok_button)
        await wait_until(lambda: "sets up this conversation" in window.statusBar().currentMessage())
        assert window.conversation_id is not None
        _click(qtbot, window.composer.send_button)
        await wait_until(lambda: len(server.posts()) == 1, message="request sent")
        messages = server.posts()[0].body["messages"]
        assert messages[0] == {"role": "system", "content": "You write faithful, concise summaries."}
        assert messages[1]["content"].startswith("Summarise the text below in one short paragraph.")

        # once the conversation has begun, its system prompt is left alone and the status bar says so
        dialog = await fill("Summarise", {"input": "More."})
        _click(qtbot, dialog.ok_button)
        await wait_until(lambda: "already begun" in window.statusBar().currentMessage())
        assert services.store.conversation(window.conversation_id).system_prompt == messages[0]["content"]

    try:
        ui_run(scenario())
    finally:
        server.stop()


def test_tester_template_run_and_reopen(qloop, qtbot, ui_run, services, two_servers):
    from dataelan_desktop.ui.tester import TesterWindow

    services.bus.bind_loop(qloop)
    services.templates.create("Greeting", "Say hello to {{name}}", system_prompt="Be {{mood|cheerful}}")
    window = TesterWindow(services)
    compare, history = window.compare_tab, window.history_tab
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        picker = compare.template_picker
        await wait_until(lambda: picker.findText("Greeting") > 0, message="templates in the picker")
        qtbot.keyClicks(picker, "Greeting")  # choosing it from the keyboard
        await wait_until(
            lambda: getattr(compare, "template_fill", None) and compare.template_fill.isVisible()
        )
        dialog = compare.template_fill
        assert not dialog.ok_button.isEnabled() and dialog.fields["mood"].text() == "cheerful"
        qtbot.keyClicks(dialog.fields["name"], "Ada")
        assert dialog.preview.toPlainText() == "Say hello to Ada"
        _click(qtbot, dialog.ok_button)
        assert compare.prompt.toPlainText() == "Say hello to Ada" and compare.system.text() == "Be cheerful"
        assert picker.currentText() == "Greeting"

        compare.columns[0].model.setEditText("one:m")
        compare.columns[1].model.setEditText("two:m")
        _click(qtbot, compare.run_button)
        await wait_until(lambda: window.status.text() == "Done.", message="run finished")
        for server in two_servers:
            assert server.posts()[-1].body["messages"] == [
                {"role": "system", "content": "Be cheerful"},
                {"role": "user", "content": "Say hello to Ada"},
            ]
        assert runs(services.db)[0].settings["template"] == "Greeting"

        # a fresh form, then the run again from History
        qtbot.keyClick(picker, Qt.Key.Key_Home)  # back to "Template…": no template
        assert picker.currentIndex() == 0 and compare.template_name is None
        compare.prompt.clear()
        compare.system.clear()
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 1, message="the history")
        assert "[Greeting]" in history.item(0).text()
        history.itemActivated.emit(history.item(0))
        await wait_until(lambda: window.tabs.currentIndex() == 0, message="the run reopened")
        assert picker.currentText() == "Greeting" and "template “Greeting”" in window.status.text()
        assert compare.prompt.toPlainText() == "Say hello to Ada" and compare.system.text() == "Be cheerful"
        assert sorted(c.output.toPlainText() for c in compare.columns) == [
            "first model speaks",
            "second model",
        ]

    ui_run(scenario())
    ui_run(services.registry.aclose())


def test_reopening_a_batch_run_shows_its_grid_and_resumes(qloop, qtbot, ui_run, services, two_servers):
    from dataelan_desktop.ui.tester import TesterWindow

    batch = BatchRun(services.db, services.registry)
    batch.create([BatchPrompt("Say one", {"contains": "first"}), BatchPrompt("Say two", {"contains": "first"})],
                 ["one:m", "two:m"], name="Greetings")  # fmt: skip
    batch.on_progress = lambda done, _total: done == 3 and batch.cancel()  # stopped with one cell to go
    ui_run(batch.run(concurrency=1))
    assert len(batch.cells()) == 3

    window = TesterWindow(services)
    batch_tab, history = window.batch_tab, window.history_tab
    qtbot.addWidget(window)
    window.show()

    async def scenario():
        window.tabs.setCurrentWidget(history)
        await wait_until(lambda: history.count() == 1, message="the history")
        label = history.item(0).text()
        assert "Batch · 2 prompts × 2 models · 3/4 done" in label and "Greetings" in label
        history.itemActivated.emit(history.item(0))
        await wait_until(lambda: "3/4 cells run" in window.status.text(), message="the batch reopened")
        assert window.tabs.currentIndex() == 1  # the Batch tab
        grid = [[batch_tab.grid.item(r, c).text().split()[0] for c in range(2)] for r in range(2)]
        assert grid == [["PASS", "FAIL"], ["PASS", "…"]]
        assert [batch_tab.grid.horizontalHeaderItem(c).text() for c in range(2)] == ["one:m", "two:m"]
        assert all(button.isEnabled() for button in batch_tab.exports.values())
        assert batch_tab.resume_button.isEnabled() and batch_tab.progress.value() == 3
        assert batch_tab.models.selected() == ["one:m", "two:m"]  # ticked as the plan had them

        _click(qtbot, batch_tab.resume_button)
        await wait_until(lambda: "4/4 cells run" in window.status.text(), message="resumed batch done")
        assert batch_tab.grid.item(1, 1).text().startswith("FAIL") and not batch_tab.resume_button.isEnabled()

        # the reopened prompts, edited: what was typed is what runs (not the loaded plan)
        batch_tab.prompts.moveCursor(QTextCursor.MoveOperation.End)
        qtbot.keyClicks(batch_tab.prompts, " please")
        _click(qtbot, batch_tab.run_button)
        await wait_until(lambda: "4/4 cells run" in window.status.text() and batch_tab.batch.run_id != batch.run_id
                         and batch_tab.run_button.isEnabled(), message="the edited batch ran")  # fmt: skip
        assert [p["text"] for p in batch_tab.batch.plan()["prompts"]] == ["Say one", "Say two please"]

    ui_run(scenario())
    ui_run(services.registry.aclose())
