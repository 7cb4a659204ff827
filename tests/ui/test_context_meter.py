"""The context meter beside the composer, and a conversation longer than the model's context sent from
the window (issue 16, item 9), with the tiny local model (a context of 512 tokens)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.test_context_fit import TURNS, long_conversation
from tests.ui.conftest import wait_until


def test_the_meter_shows_how_full_the_context_is_and_a_long_conversation_still_gets_its_reply(
    window, qtbot, ui_run, services, tiny_gguf
):
    model = f"local:{tiny_gguf}"
    conversation_id = long_conversation(services, model)
    meter = window.composer.context_meter

    async def scenario():
        window.open_conversation(conversation_id)
        await wait_until(lambda: window.conversation_id == conversation_id, message="opened")
        # before the model is loaded the count is an estimate, and says so; the limit is the model's
        await wait_until(lambda: "of 512 tokens" in meter.label.text(), message="the meter filled in")
        assert meter.label.text().startswith("~") and "estimated" in meter.label.text()
        assert meter.bar.value() > 0

        # this conversation chooses to summarise; the meter's line and the saved choice follow
        meter.choice.setCurrentIndex(meter.choice.findData("summarise"))
        meter.choice.activated.emit(meter.choice.currentIndex())
        await wait_until(
            lambda: (
                services.store.conversation(conversation_id).settings.get("context_overflow") == "summarise"
            ),
            message="the choice saved",
        )
        # and back to dropping the oldest turns, then a question that does not fit with all of them
        meter.choice.setCurrentIndex(meter.choice.findData("drop"))
        meter.choice.activated.emit(meter.choice.currentIndex())
        await wait_until(
            lambda: services.store.conversation(conversation_id).settings.get("context_overflow") == "drop",
            message="drop saved",
        )
        window.composer.max_tokens.setValue(8)
        window.composer.editor.setPlainText("So where is the logbook now? " + "Please answer in detail. " * 3)
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
        await wait_until(
            lambda: (
                [w.view.status for w in window.chat_view.shown_widgets()][-1:] == ["complete"]
                and len(window.chat_view.shown_widgets()) == len(TURNS) + 2
            ),
            60,
            "the reply",
        )
        # the status bar says what was left out (once the reply's end is seen, however short it was)
        await wait_until(lambda: "left out to fit" in window.statusBar().currentMessage(), 5, "the notice")
        assert "oldest" in window.statusBar().currentMessage()
        # the model is loaded now: its own tokenizer counts (no "~"), and the branch is over the context
        await wait_until(
            lambda: "of 512 tokens" in meter.label.text() and not meter.label.text().startswith("~"),
            message="counted by the model",
        )
        assert "estimated" not in meter.label.text() and meter.bar.value() == 1000  # full: over the context
        assert "left out when you send" in meter.label.text()

    ui_run(scenario(), timeout=180)


def test_the_default_choice_is_set_in_settings(window, ui_run, services, tiny_gguf):
    conversation_id = long_conversation(services, f"local:{tiny_gguf}")
    meter = window.composer.context_meter

    async def scenario():
        window.open_conversation(conversation_id)
        await wait_until(lambda: "of 512 tokens" in meter.label.text(), message="the meter")
        assert meter.current_choice() == "drop"
        dialog = window.open_settings()
        page = dialog.chat_page
        page.overflow.setCurrentIndex(page.overflow.findData("summarise"))
        # the conversation has no choice of its own: it follows the new default, and so does sending
        await wait_until(lambda: meter.current_choice() == "summarise", message="the meter follows")
        assert services.chat.default_overflow == "summarise"
        assert window.settings.value("chat/context_overflow") == "summarise"
        dialog.close()

    ui_run(scenario())
