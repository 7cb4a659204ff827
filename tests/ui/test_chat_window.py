"""A new user's path through the real window, driven by clicks and keys."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog

from dataelan_desktop.core.connections.store import save_provider
from tests.support.fake_openai import openai_stream
from tests.ui.conftest import wait_until


def reply_widgets(window):
    return [w for w in window.chat_view.shown_widgets() if w.view.role == "assistant"]


def last_reply(window):
    widgets = reply_widgets(window)
    return widgets[-1] if widgets else None


def send_text(qtbot, window, text: str) -> None:
    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, text)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return)


def test_new_user_path(window, qtbot, ui_run, services, server, tiny_gguf, monkeypatch):
    # before any conversation: an invitation, and no button for earlier messages there are none of
    assert window.chat_view._empty.isVisible() and not window.chat_view._earlier.isVisible()

    async def scenario():
        # a project, then a conversation inside it (Ctrl+N)
        monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Research", True)))
        window.library.new_project()
        await wait_until(
            lambda: window.sidebar.tree.topLevelItemCount() == 2, message="project in the sidebar"
        )
        project_item = window.sidebar.tree.topLevelItem(1)
        assert project_item.text(0) == "Research"
        window.sidebar.tree.setCurrentItem(project_item)

        # chat with the tiny local model
        window.composer.set_model(f"local:{tiny_gguf}")
        window.composer.max_tokens.setValue(12)
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: window.conversation_id is not None, message="a new conversation")
        send_text(qtbot, window, "Hello local model")
        await wait_until(
            lambda: last_reply(window) and last_reply(window).view.status == "complete", 60, "local reply"
        )
        assert window.chat_view.shown_widgets()[0].view.content == "Hello local model"
        assert last_reply(window).body_text()
        # the conversation sits in the project, titled after the first message
        await wait_until(
            lambda: [i.text(0) for i in window.sidebar.conversation_items()] == ["Hello local model"],
            message="title",
        )
        assert window.sidebar.tree.topLevelItem(1).child(0).text(0) == "Hello local model"

        # a loopback OpenAI-compatible server, streaming slowly enough to watch
        save_provider(services.db, "fakeai", base_url=server.base_url + "/v1")
        server.push(openai_stream([f"word{i} " for i in range(40)], delay=0.03))
        window.composer.set_model("fakeai:gpt-4o-mini")
        window.composer.max_tokens.setValue(0)
        send_text(qtbot, window, "Stream to me")
        first = await wait_until(
            lambda: (
                last_reply(window)
                and "word3" in last_reply(window).body_text()
                and last_reply(window).body_text()
            ),
            message="first words",
        )
        await wait_until(lambda: "word20" in last_reply(window).body_text(), message="more words")
        assert len(last_reply(window).body_text()) > len(first)  # the reply grew while streaming
        await wait_until(lambda: last_reply(window).view.status == "complete", message="stream done")
        assert "word39" in last_reply(window).view.content

        # stop one mid-stream with Esc: it says so and keeps its text
        server.push(openai_stream([f"long{i} " for i in range(400)], delay=0.02))
        send_text(qtbot, window, "Write a lot")
        await wait_until(lambda: "long5" in last_reply(window).body_text(), message="long stream started")
        qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
        await wait_until(lambda: last_reply(window).view.status == "stopped", message="stopped")
        stopped = last_reply(window)
        assert "Stopped" in stopped.status.text() and "long5" in stopped.view.content
        assert "long399" not in stopped.view.content

        # regenerate: a second version of the reply, shown as 2/2
        server.push(openai_stream(["Regenerated ", "answer"]))
        qtbot.mouseClick(last_reply(window).regenerate_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: last_reply(window).view.content == "Regenerated answer", message="regenerated"
        )
        assert last_reply(window).branch_label.text() == "2/2"
        # go back to version 1
        qtbot.mouseClick(last_reply(window).prev_branch, Qt.MouseButton.LeftButton)
        await wait_until(lambda: last_reply(window).branch_label.text() == "1/2", message="branch 1")
        assert "long5" in last_reply(window).view.content

        # edit the last user message: a new branch with its own reply
        server.push(openai_stream(["Edited ", "reply"]))
        user = [w for w in window.chat_view.shown_widgets() if w.view.role == "user"][-1]
        monkeypatch.setattr(
            QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("Write a little", True))
        )
        qtbot.mouseClick(user.edit_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: last_reply(window).view.content == "Edited reply", message="edited branch")
        edited_user = [w for w in window.chat_view.shown_widgets() if w.view.role == "user"][-1]
        assert edited_user.view.content == "Write a little" and edited_user.branch_label.text() == "2/2"

        # copy the last reply (Ctrl+Shift+C)
        qtbot.keyClick(
            window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        assert QGuiApplication.clipboard().text() == "Edited reply"

        # search (Ctrl+K) and land on the hit in another conversation
        qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
        assert window.sidebar.search.hasFocus()
        qtbot.keyClicks(window.sidebar.search, "Hello local")
        await wait_until(
            lambda: (
                window.sidebar.results.count() >= 1
                and window.sidebar.results.item(0).data(Qt.ItemDataRole.UserRole)
            ),
            message="hits",
        )
        qtbot.keyClick(window.sidebar.search, Qt.Key.Key_Return)
        await wait_until(
            lambda: (
                window.chat_view.shown_widgets()
                and window.chat_view.shown_widgets()[0].view.content == "Hello local model"
            ),
            message="landed on the hit",
        )

    ui_run(scenario())


def test_event_loop_stays_responsive_during_a_fast_stream(window, qtbot, ui_run, services, server):
    """Thousands of tokens per second from a loopback server; measure the longest gap between loop ticks."""
    save_provider(services.db, "fast", base_url=server.base_url + "/v1")
    server.push(openai_stream(["warm ", "up"]), openai_stream([f"t{i} " for i in range(6000)]))

    async def scenario():
        window.composer.set_model("fast:gpt-4o-mini")
        # one short exchange first: the first request's one-time work (SDK and HTTP set-up) is not painting
        window.composer.editor.setPlainText("warm up")
        window.composer._submit()
        await wait_until(
            lambda: last_reply(window) and last_reply(window).view.content == "warm up", 60, "warm-up"
        )
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker():
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.002)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        window.composer.editor.setPlainText("go fast")
        window.composer._submit()
        # the warm-up reply is already complete: wait for the new one's last token
        await wait_until(
            lambda: (
                (reply := last_reply(window))
                and "t5999" in reply.view.content
                and reply.view.status == "complete"
            ),
            60,
            "fast stream",
        )
        done.set()
        await tick
        longest = max(gaps) * 1000
        print(
            f"\nlongest event-loop gap while painting a 6,000-token stream: {longest:.1f} ms over {len(gaps)} ticks"
        )
        return longest

    # the figure against its 16 ms target is `make bench`'s; here only a frozen window fails
    assert ui_run(scenario()) < 1000


def test_failed_reply_says_so_and_the_next_works(window, qtbot, ui_run, services):
    save_provider(services.db, "deadbox", base_url="http://127.0.0.1:9/v1")

    async def scenario():
        window.composer.set_model("deadbox:any")
        send_text(qtbot, window, "anyone there?")
        await wait_until(
            lambda: last_reply(window) and last_reply(window).view.status == "failed", message="failure shown"
        )
        assert "Could not reach deadbox" in last_reply(window).status.text()

    ui_run(scenario())
