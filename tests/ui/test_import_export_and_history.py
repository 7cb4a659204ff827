"""Import and export from the window; a 2,000-message conversation opens without stalling."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from dataelan_desktop.core.db.tables import Message
from tests.ui.conftest import wait_until

CHATGPT = Path(__file__).parents[1] / "data" / "chatgpt_export" / "conversations.json"


def counts(services):
    con = sqlite3.connect(services.db.path)
    try:
        return [
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("conversations", "messages", "projects")
        ]
    finally:
        con.close()


def test_export_and_reimport_from_the_window(window, ui_run, services, tmp_path):
    async def scenario():
        await window.transfer.import_file(CHATGPT)
        await wait_until(
            lambda: window.title.text() == "Sourdough starter help", message="imported conversation open"
        )
        shown = [w.view.content for w in window.chat_view.shown_widgets()]
        assert shown[-1] == "1:2:1 starter, water 50%."
        target = tmp_path / "sourdough.json"
        await window.transfer.export_to(target, conversation_id=window.conversation_id)
        assert json.loads(target.read_text())["conversations"][0]["title"] == "Sourdough starter help"
        await window.transfer.import_file(target)
        await wait_until(
            lambda: window.conversation_id and len(window.sidebar.conversation_items()) == 3,
            message="re-imported",
        )
        assert [w.view.content for w in window.chat_view.shown_widgets()] == shown

    ui_run(scenario())


def test_malformed_chatgpt_export_is_refused_with_a_message(window, ui_run, services, tmp_path, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda _p, title, text: shown.append(f"{title}: {text}"))
    )
    data = json.loads(CHATGPT.read_text())
    data[0]["mapping"]["a2"]["parent"] = "missing-node"
    bad = tmp_path / "conversations.json"
    bad.write_text(json.dumps(data))
    before = counts(services)

    async def scenario():
        task = window.transfer.import_file(bad)
        await asyncio.gather(task, return_exceptions=True)
        await wait_until(lambda: shown, message="error message")

    ui_run(scenario())
    assert "Nothing was imported" in shown[0] and "does not exist" in shown[0]
    assert counts(services) == before


def test_a_2000_message_conversation_opens_quickly_and_lazily(window, qtbot, ui_run, services):
    conversation = services.store.create_conversation(title="Long one", model="openai:gpt-4o-mini")

    def fill(s):
        parent = None
        for i in range(2000):
            m = Message(conversation_id=conversation.id, parent_id=parent, role="user" if i % 2 == 0 else "assistant",
                        content=f"message {i} with **bold** text and `code`")  # fmt: skip
            s.add(m)
            s.flush()
            parent = m.id

    services.db.call(fill)

    async def scenario():
        began = time.perf_counter()
        window.open_conversation(conversation.id)
        await wait_until(lambda: window.title.text() == "Long one", message="opened")
        elapsed = time.perf_counter() - began
        print(f"\nopened a 2,000-message conversation to first paint in {elapsed * 1000:.0f} ms")
        assert len(window.chat_view.views()) == 2000
        assert len(window.chat_view.shown_widgets()) == 40  # only the newest page is built
        assert window.chat_view.shown_widgets()[-1].view.content.startswith("message 1999")
        qtbot.mouseClick(window.chat_view._earlier, Qt.MouseButton.LeftButton)  # older pages on request
        assert len(window.chat_view.shown_widgets()) == 80
        target = window.chat_view.views()[1900].id
        assert window.chat_view.ensure_shown(target) is not None  # a search hit further back builds its page

    ui_run(scenario())
