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


def _shown_lines(edit) -> list[str]:
    """The lines as laid out on screen, block by block."""
    lines, block = [], edit.document().firstBlock()
    while block.isValid():
        edit.document().documentLayout().ensureBlockLayout(block)
        layout = block.layout()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            lines.append(block.text()[line.textStart() : line.textStart() + line.textLength()].rstrip())
        block = block.next()
    return lines


def test_a_one_paragraph_reply_streams_in_pieces_and_looks_as_one_paragraph(qtbot):
    """Split where Qt wraps, so each frame lays out only the last line; the lines on screen are
    those of the paragraph laid out whole, and at another width the text is shown anew."""
    from PySide6.QtWidgets import QPlainTextEdit

    from dataelan_desktop.ui.chat.message_widget import SPLIT_PARAGRAPH

    paragraph = "".join(f"word{i} " for i in range(2500))
    widget = _streaming_widget(qtbot, paragraph[:200])
    widget.resize(500, 400)
    for end in range(400, len(paragraph) + 1, 300):
        widget.update_view(widget.view, streaming_text=paragraph[:end])
    widget.update_view(widget.view, streaming_text=paragraph)
    assert widget.stream_view.document().blockCount() > len(paragraph) // SPLIT_PARAGRAPH  # it was split

    whole = QPlainTextEdit()
    qtbot.addWidget(whole)
    whole.setFrameShape(widget.stream_view.frameShape())
    whole.setVerticalScrollBarPolicy(widget.stream_view.verticalScrollBarPolicy())
    whole.resize(widget.stream_view.size())
    whole.show()
    whole.setPlainText(paragraph)
    assert _shown_lines(widget.stream_view) == _shown_lines(whole)
    assert widget.streamed_text() == paragraph

    widget.resize(350, 400)  # narrower: lines wrap elsewhere
    qtbot.waitUntil(lambda: widget.stream_view.document().blockCount() == 1)
    assert widget.stream_view.toPlainText() == paragraph
