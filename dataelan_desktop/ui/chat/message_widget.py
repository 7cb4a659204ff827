"""One message in the chat view: rendered Markdown, its images, status, actions and branch switcher."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.providers.reply import cost_of, format_stats
from .markdown import COPY_SCHEME, MarkdownRenderer, plain_html

LONG_TEXT = 16_000  # characters above which a message is shown as plain text
#: while a reply streams its view grows this many lines at a time: each growth lays out the whole
#: conversation again, which at thousands of tokens per second cost a sixth of the throughput
STREAM_GROWTH_LINES = 6
#: while a reply streams, a paragraph longer than this (characters) is shown as blocks split where
#: Qt wrapped its lines, which looks the same: Qt lays a paragraph out whole on every append, so a
#: reply written as one long paragraph cost more per frame the longer it grew (70-180 ms stalls)
SPLIT_PARAGRAPH = 1_500

STATUS_TEXT = {
    "stopped": "Stopped — the text so far is kept",
    "interrupted": "Interrupted — the app closed while this reply was streaming",
    "failed": "Failed",
    "streaming": "Writing…",
}


@dataclass
class MessageView:
    """What a message widget shows (a plain snapshot, safe to pass between threads)."""

    id: str
    role: str
    content: str
    status: str
    model: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    branch_index: int = 1
    branch_count: int = 1
    attachments: tuple[str, ...] = ()
    generation_ms: float | None = None
    usage_estimated: bool = False
    stop_reason: str | None = None
    #: an agent's turn: {"calls": [...]}; a tool result: its call (shown by ui/agents/tool_block.py)
    tool: dict | None = None
    images: tuple[tuple[str, str], ...] = ()  # (name, file path) of each image the message shows


IMAGE_WIDTH = 360  # pixels: an image is shown at most this wide (its file keeps it whole)


def image_label(parent: QWidget, name: str, path: str) -> QLabel:
    """An image a message shows, at most ``IMAGE_WIDTH`` wide; its name as tooltip and accessible name."""
    label = QLabel(parent)
    label.setObjectName("messageImage")
    label.setAccessibleName(name)
    label.setToolTip(name)
    pixmap = QPixmap(path)
    if pixmap.isNull():
        label.setText(f"(the image {name} could not be shown)")
    else:
        if pixmap.width() > IMAGE_WIDTH:
            pixmap = pixmap.scaledToWidth(IMAGE_WIDTH, Qt.TransformationMode.SmoothTransformation)
        label.setPixmap(pixmap)
    return label


class MessageWidget(QFrame):
    copy_requested = Signal(str)  # message id
    regenerate_requested = Signal(str)
    edit_requested = Signal(str)
    branch_requested = Signal(str, int)  # message id, step (-1 / +1)

    def __init__(self, view: MessageView, renderer: MarkdownRenderer, parent=None):
        super().__init__(parent)
        self.view = view
        self.renderer = renderer
        self._code_blocks: list[str] = []
        self.setObjectName("message")
        self.setProperty("role", view.role)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(4)

        header = QHBoxLayout()
        self.header = QLabel(self._header_text())
        self.header.setObjectName("messageHeader")
        header.addWidget(self.header)
        header.addStretch(1)
        self.status = QLabel()
        self.status.setObjectName("messageStatus")
        header.addWidget(self.status)
        layout.addLayout(header)

        self.body = QLabel()
        self.body.setObjectName("messageBody")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.body.setOpenExternalLinks(False)
        self.body.linkActivated.connect(self._link)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        layout.addWidget(self.body)
        self.images = [image_label(self, name, path) for name, path in view.images]
        for label in self.images:
            layout.addWidget(label)
        # While a reply streams, text is appended here (cost proportional to the new text, not
        # to the whole reply); the finished reply is rendered once as Markdown in ``body``.
        self.stream_view = QPlainTextEdit()
        self.stream_view.setReadOnly(True)
        self.stream_view.setFrameShape(QFrame.Shape.NoFrame)
        self.stream_view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stream_view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.stream_view.document().documentLayout().documentSizeChanged.connect(self._fit_stream_view)
        self.stream_view.setVisible(False)
        self._streamed = 0
        self._stream_text = ""  # the text shown in stream_view (its document may hold split points)
        self._split_width: int | None = None  # the width at which paragraphs were split, if they were
        layout.addWidget(self.stream_view)

        self.stats = QLabel()
        self.stats.setObjectName("messageHeader")
        self.stats.setVisible(False)
        layout.addWidget(self.stats)

        # the actions belong to a finished message: hidden while a reply streams, they are not
        # laid out and repainted below the growing text on every frame
        self.actions_bar = QWidget(self)
        actions = QHBoxLayout(self.actions_bar)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(2)
        self.prev_branch = self._action(
            "‹", "Previous version", lambda: self.branch_requested.emit(view.id, -1)
        )
        self.branch_label = QLabel()
        self.branch_label.setObjectName("messageHeader")
        self.next_branch = self._action("›", "Next version", lambda: self.branch_requested.emit(view.id, 1))
        for w in (self.prev_branch, self.branch_label, self.next_branch):
            actions.addWidget(w)
        actions.addStretch(1)
        self.copy_button = self._action(
            "Copy", "Copy this message", lambda: self.copy_requested.emit(view.id)
        )
        actions.addWidget(self.copy_button)
        if view.role == "assistant":
            self.regenerate_button = self._action(
                "Regenerate",
                "Write a new version of this reply",
                lambda: self.regenerate_requested.emit(view.id),
            )
            actions.addWidget(self.regenerate_button)
            self.stats_button = self._action("Details", "Tokens and speed", self._toggle_stats)
            actions.addWidget(self.stats_button)
        else:
            self.edit_button = self._action(
                "Edit", "Edit and resend as a new branch", lambda: self.edit_requested.emit(view.id)
            )
            actions.addWidget(self.edit_button)
        layout.addWidget(self.actions_bar)
        self.update_view(view)

    def _action(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName("messageAction")
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.clicked.connect(slot)
        return button

    def _header_text(self) -> str:
        if self.view.role == "user":
            extra = f"  ·  attached: {', '.join(self.view.attachments)}" if self.view.attachments else ""
            return "You" + extra
        return self.view.model or "Assistant"

    def _stats_text(self) -> str:
        return format_stats(self.view, cost=cost_of(self.view.model, self.view))

    def _toggle_stats(self) -> None:
        self.stats.setText(self._stats_text())
        self.stats.setVisible(not self.stats.isVisible())

    def _fit_stream_view(self, *_args) -> None:
        lines = self.stream_view.document().size().height()
        if self.view.status == "streaming":
            lines = (int(lines) // STREAM_GROWTH_LINES + 1) * STREAM_GROWTH_LINES
        height = int(lines * self.stream_view.fontMetrics().lineSpacing() + 12)
        if height != self.stream_view.height():
            self.stream_view.setFixedHeight(height)

    def append_stream(self, text: str) -> None:
        """Show the streaming text: only what is new since the last call is laid out."""
        if not self.stream_view.isVisible():
            self.body.setVisible(False)
            self.stream_view.setVisible(True)
            self._show_plain(text)
        elif len(text) < self._streamed:
            self._show_plain(text)
        elif len(text) > self._streamed:
            self._insert_tail(text)
        if self.status.property("state") != "streaming":
            self._set_status("streaming", self.view)

    def _show_plain(self, text: str) -> None:
        """Show ``text`` in stream_view from scratch (laid out whole)."""
        self.stream_view.setPlainText(text)
        self._stream_text, self._streamed, self._split_width = text, len(text), None

    def _insert_tail(self, text: str) -> None:
        """Add what ``text`` has beyond the ``_streamed`` characters already shown."""
        cursor = self.stream_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        block = cursor.block()
        cursor.insertText(text[self._streamed :])
        self._stream_text, self._streamed = text, len(text)
        # lay the new lines out now: done lazily inside the next paint, their height would
        # arrive mid-paint and cost a second repaint of the window
        layout = self.stream_view.document().documentLayout()
        while block.isValid():
            layout.ensureBlockLayout(block)
            block = block.next()
        self._split_long_paragraph()

    def _split_long_paragraph(self) -> None:
        """End the last block where Qt began its last line, so later appends lay out that line only."""
        block = self.stream_view.document().lastBlock()
        if block.length() <= SPLIT_PARAGRAPH:
            return
        lines = block.layout()
        if lines is None or lines.lineCount() < 2:
            return
        cursor = QTextCursor(block)
        cursor.setPosition(block.position() + lines.lineAt(lines.lineCount() - 1).textStart())
        cursor.insertBlock()
        self._split_width = self.stream_view.viewport().width()
        layout = self.stream_view.document().documentLayout()
        layout.ensureBlockLayout(block)
        layout.ensureBlockLayout(block.next())

    def _rejoin(self) -> None:
        """At another width the split points would show as early line ends: show the text anew."""
        self._split_width = None
        self.stream_view.setPlainText(self._stream_text)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self._split_width is not None and self.stream_view.viewport().width() != self._split_width:
            self._rejoin()

    def streamed_text(self) -> str:
        return self._stream_text if self.stream_view.isVisible() else self.stream_view.toPlainText()

    def update_view(self, view: MessageView, streaming_text: str | None = None) -> None:
        self.view = view
        if streaming_text is not None:
            self.append_stream(streaming_text)
            return
        text = view.content
        if len(text) > LONG_TEXT:
            # a very long message stays plain text: rich-text layout of it would stall the window
            self.body.setVisible(False)
            shown = self._stream_text if self.stream_view.isVisible() else ""
            self.stream_view.setVisible(True)
            if shown and len(shown) == self._streamed and text.startswith(shown):
                # the reply just finished: add its last words rather than lay 16,000+ characters
                # out again (that stalled the window for 15-25 ms at the end of a long reply)
                if len(text) > len(shown):
                    self._insert_tail(text)
            elif shown != text:
                self._show_plain(text)
            self._code_blocks = []
            self._set_status(view.status, view)
            self._fit_stream_view()  # exact height now that it no longer grows
            return
        self.stream_view.setVisible(False)
        self.body.setVisible(True)
        if view.role == "user":
            html, self._code_blocks = plain_html(text), []
        else:
            html, self._code_blocks = self.renderer.render(text or "")
        calls = ", ".join(c.get("name", "?") for c in (view.tool or {}).get("calls") or [])
        empty = f"(called {calls})" if calls else "…"
        self.body.setText(html if text else f'<span style="color:#888">{empty}</span>')
        self._set_status(view.status, view)

    def _set_status(self, status: str, view: MessageView) -> None:
        self.actions_bar.setVisible(status != "streaming")
        label = STATUS_TEXT.get(status, "")
        if status == "failed" and view.error:
            label = f"Failed: {view.error}"
        self.status.setText(label)
        self.status.setToolTip(view.error or "")
        self.status.setProperty("state", status)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        many = view.branch_count > 1
        for w in (self.prev_branch, self.branch_label, self.next_branch):
            w.setVisible(many)
        self.branch_label.setText(f"{view.branch_index}/{view.branch_count}")
        self.prev_branch.setEnabled(view.branch_index > 1)
        self.next_branch.setEnabled(view.branch_index < view.branch_count)
        if self.stats.isVisible():
            self.stats.setText(self._stats_text())

    def body_text(self) -> str:
        """What the person sees: the streaming text while it streams, else the rendered body."""
        return self.streamed_text() if self.stream_view.isVisible() else self.body.text()

    def _link(self, href: str) -> None:
        if href.startswith(COPY_SCHEME + ":"):
            index = int(href.split(":", 1)[1])
            if 0 <= index < len(self._code_blocks):
                QGuiApplication.clipboard().setText(self._code_blocks[index])
            return
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        url = QUrl(href)
        if url.scheme() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
