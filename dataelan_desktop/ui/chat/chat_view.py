"""The scrolling list of messages of one conversation, rendered lazily."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from .markdown import MarkdownRenderer
from .message_widget import MessageView, MessageWidget

PAGE = 40  # messages built at a time; older ones only when asked for


class ChatView(QScrollArea):
    copy_requested = Signal(str)
    regenerate_requested = Signal(str)
    edit_requested = Signal(str)
    branch_requested = Signal(str, int)

    def __init__(self, parent=None, dark: bool = False):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.renderer = MarkdownRenderer(dark)
        self._views: list[MessageView] = []
        self._widgets: dict[str, MessageWidget] = {}
        self._shown_from = 0
        self._container = QWidget()
        self._layout = QVBoxLayout(self._container)
        self._layout.setContentsMargins(16, 12, 16, 12)
        self._layout.setSpacing(10)
        self._earlier = QPushButton("Show earlier messages")
        self._earlier.clicked.connect(self.show_earlier)
        self._layout.addWidget(self._earlier)
        self._empty = QLabel("Send a message to start.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setObjectName("messageHeader")
        self._layout.addWidget(self._empty)
        # a branch that ends in a tool result: the agent's run ended before its answer (a limit, Stop,
        # a crash); said under it, also when the conversation is opened days later
        self._unanswered = QLabel(
            "The agent stopped here before it answered. Send a message to let it go on."
        )
        self._unanswered.setWordWrap(True)
        self._unanswered.setObjectName("messageHeader")
        self._layout.addWidget(self._unanswered)
        self._layout.addStretch(1)
        self.agent_running = False  # set by the pane: a run in progress is not "stopped here"
        self.setWidget(self._container)
        # a streaming reply is followed when the layout grows the range, in the same pass as the
        # layout: scrolling from a timer afterwards painted the window twice per update
        self._follow_stream = False
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)
        # an opaque list: scrolling it repaints the list alone, not every widget behind it
        self._container.setAutoFillBackground(True)
        self._update_chrome()  # no "Show earlier messages" above an empty list

    def set_dark(self, dark: bool) -> None:
        self.renderer = MarkdownRenderer(dark)

    # -- content -------------------------------------------------------------------

    def set_messages(self, views: list[MessageView], scroll_to_end: bool = True) -> None:
        self._follow_stream = False
        old_ids = [v.id for v in self._views]
        new_ids = [v.id for v in views]
        if old_ids and new_ids[: len(old_ids)] == old_ids:
            # the same conversation, perhaps with new messages: update in place, append the rest
            # (rebuilding every widget on each status change would stall the loop)
            for old, new in zip(self._views, views, strict=False):
                widget = self._widgets.get(new.id)
                if widget is None or old == new or new.role == "tool":  # (a tool result never changes)
                    continue
                if new.status == "streaming" and widget.stream_view.isVisible():
                    widget.view = new  # the paint timer owns a streaming reply's text
                    continue
                widget.update_view(new)
            for view in views[len(old_ids) :]:
                self._insert(view, self._end_of_messages())
            self._views = list(views)
            self._update_chrome()
            if scroll_to_end and len(views) > len(old_ids):
                QTimer.singleShot(0, self, self.scroll_to_end)
            return
        for widget in self._widgets.values():
            self._layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        self._widgets.clear()
        self._views = list(views)
        self._shown_from = max(0, len(views) - PAGE)
        for view in self._views[self._shown_from :]:
            self._insert(view, self._end_of_messages())
        self._update_chrome()
        if scroll_to_end:
            QTimer.singleShot(0, self, self.scroll_to_end)

    def show_earlier(self) -> None:
        start = max(0, self._shown_from - PAGE)
        for offset, view in enumerate(self._views[start : self._shown_from]):
            self._insert(view, 1 + offset)
        self._shown_from = start
        self._update_chrome()

    def ensure_shown(self, message_id: str) -> MessageWidget | None:
        """Build older pages until ``message_id`` is on screen, then scroll to it."""
        while message_id not in self._widgets and self._shown_from > 0:
            self.show_earlier()
        widget = self._widgets.get(message_id)
        if widget is not None:
            # the widget as context: the call is dropped if the view is rebuilt before it runs
            QTimer.singleShot(0, widget, lambda: self.ensureWidgetVisible(widget, 0, 40))
        return widget

    def _insert(self, view: MessageView, index: int) -> None:
        if view.role == "tool":  # an agent's tool call: a collapsible block (ui/agents)
            from ..agents.tool_block import ToolCallBlock

            block = ToolCallBlock(view, self._container)
            self._layout.insertWidget(index, block)
            self._widgets[view.id] = block
            return
        widget = MessageWidget(view, self.renderer, self._container)
        widget.copy_requested.connect(self.copy_requested)
        widget.regenerate_requested.connect(self.regenerate_requested)
        widget.edit_requested.connect(self.edit_requested)
        widget.branch_requested.connect(self.branch_requested)
        self._layout.insertWidget(index, widget)
        self._widgets[view.id] = widget

    def _end_of_messages(self) -> int:
        return self._layout.indexOf(self._unanswered)  # messages go before the note and the stretch

    def set_agent_running(self, running: bool) -> None:
        self.agent_running = running
        self._update_chrome()

    def _update_chrome(self) -> None:
        self._earlier.setVisible(self._shown_from > 0)
        self._earlier.setText(f"Show earlier messages ({self._shown_from} more)")
        self._empty.setVisible(not self._views)
        ends_in_a_result = bool(self._views) and self._views[-1].role == "tool"
        self._unanswered.setVisible(ends_in_a_result and not self.agent_running)

    def update_streaming(self, message_id: str, text: str) -> None:
        widget = self._widgets.get(message_id)
        if widget is None:
            return
        # follow the reply only while the person has not scrolled away from the end
        self._follow_stream = self.verticalScrollBar().value() >= self.verticalScrollBar().maximum() - 40
        widget.update_view(widget.view, streaming_text=text)
        # lay out now (message, list, scroll range, scroll position), so that the growth reaches the
        # screen in one repaint; left to the event queue, each step repainted the window again
        for _ in range(4):  # the message's layout, then the list's, then the scroll area's
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow_stream:
            self.verticalScrollBar().setValue(maximum)

    def scroll_to_end(self) -> None:
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    # -- queries (used by actions and tests) ----------------------------------------

    def views(self) -> list[MessageView]:
        return list(self._views)

    def widget_for(self, message_id: str) -> MessageWidget | None:
        return self._widgets.get(message_id)

    def shown_widgets(self) -> list[MessageWidget]:
        return [self._widgets[v.id] for v in self._views if v.id in self._widgets]
