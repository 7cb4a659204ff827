"""A full chat flow never waits on SQLite on the GUI thread: every blocking database call of the window
comes from a worker, and every SQL statement runs on the database's own thread."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from dataelan_desktop.core.connections.store import save_provider
from tests.support.db_threads import DatabaseThreads
from tests.support.fake_openai import openai_stream
from tests.ui.conftest import wait_until


def _replies(window):
    return [w for w in window.chat_view.shown_widgets() if w.view.role == "assistant"]


def test_a_full_chat_flow_does_no_database_work_on_the_gui_thread(
    window, qtbot, ui_run, services, server, tmp_path, monkeypatch
):
    save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
    click = lambda button: qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # noqa: E731

    async def scenario():
        # a new conversation, a question, its streamed reply
        window.composer.set_model("fakeai:m")
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: window.conversation_id is not None, message="a new conversation")
        server.push(openai_stream(["Tides ", "come ", "from ", "the ", "moon"], delay=0.01))
        window.composer.editor.setPlainText("Why are there tides?")
        click(window.composer.send_button)
        await wait_until(
            lambda: _replies(window) and _replies(window)[-1].view.status == "complete", message="reply"
        )

        # regenerated, then the first version shown again with ‹
        server.push(openai_stream(["Gravity", " mostly"]))
        click(_replies(window)[-1].regenerate_button)
        await wait_until(lambda: _replies(window)[-1].view.content == "Gravity mostly", message="regenerated")
        click(_replies(window)[-1].prev_branch)
        await wait_until(
            lambda: _replies(window)[-1].view.content == "Tides come from the moon", message="branch"
        )

        # search finds the other version and shows its branch
        window.sidebar.search.setText("Gravity")
        await wait_until(lambda: window.sidebar.results.count() == 1, message="search hit")
        window.sidebar.results.itemActivated.emit(window.sidebar.results.item(0))
        await wait_until(lambda: _replies(window)[-1].view.content == "Gravity mostly", message="hit shown")
        window.sidebar.search.clear()

        # renamed, pinned, exported, deleted and brought back with Undo
        conversation_id = window.conversation_id
        monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Tides", True)))
        window.sidebar.rename_requested.emit(conversation_id)
        await wait_until(
            lambda: "Tides" in [i.text(0) for i in window.sidebar.conversation_items()], message="renamed"
        )
        window.sidebar.pin_requested.emit(conversation_id, True)
        await wait_until(
            lambda: "★ Tides" in [i.text(0) for i in window.sidebar.conversation_items()], message="pin"
        )
        await window.transfer.export_to(tmp_path / "tides.json", conversation_id=conversation_id)
        window.sidebar.delete_requested.emit(conversation_id)
        await wait_until(lambda: not window.sidebar.conversation_items(), message="deleted")
        click(window.undo_button)
        await wait_until(lambda: window.sidebar.conversation_items(), message="restored")

        # and imported again, as a second conversation
        await window.transfer.import_file(tmp_path / "tides.json")
        await wait_until(lambda: len(window.sidebar.conversation_items()) == 2, message="imported")

    with DatabaseThreads(services.db) as threads:
        ui_run(scenario())

    assert threads.gui_waits == []  # the window never waited on SQLite…
    assert threads.off_the_database_thread() == []  # …and SQLite ran only on its own thread
    assert len(threads.callers) >= 15 and len(threads.sql_threads) >= 50  # not vacuous
    assert (tmp_path / "tides.json").read_text().count('"role"') == 3  # a question and its two replies
