"""A reply longer than LONG_TEXT is shown as plain text; when it finishes it shows exactly what was saved."""

from __future__ import annotations

from dataelan_desktop.ui.chat.markdown import MarkdownRenderer
from dataelan_desktop.ui.chat.message_widget import LONG_TEXT, MessageView, MessageWidget

LONG = "".join(f"word{i} " + ("\n\n" if i % 40 == 39 else "") for i in range(6000))


def _streaming_widget(qtbot, shown: str) -> MessageWidget:
    view = MessageView("r1", "assistant", "", "streaming")
    widget = MessageWidget(view, MarkdownRenderer())
    qtbot.addWidget(widget)
    widget.show()
    widget.update_view(view, streaming_text=shown)
    return widget


def test_a_long_reply_that_finishes_between_frames_shows_its_last_words(qtbot):
    assert len(LONG) > 2 * LONG_TEXT
    widget = _streaming_widget(qtbot, LONG[:-500])  # the last frame painted all but its end
    widget.update_view(MessageView("r1", "assistant", LONG, "complete"))
    assert widget.streamed_text() == LONG and widget.body_text() == LONG
    assert widget.status.text() == "" and widget.actions_bar.isVisibleTo(widget)


def test_a_long_reply_saved_differently_from_what_streamed_shows_what_was_saved(qtbot):
    widget = _streaming_widget(qtbot, LONG[:-500])
    saved = "A different text. " + LONG
    widget.update_view(MessageView("r1", "assistant", saved, "complete"))
    assert widget.streamed_text() == saved
