"""The writes the chat service makes around a reply: a person's message, the reply's row from before
its first token, what has streamed so far, the finished reply (which titles a new conversation) and a
tool call's result; and a finished reply's columns, which a recovery file holds and restores."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Conversation, Message, MessageStatus, utcnow
from ..tree import visible_path
from ..views import automatic_title
from .branches import chosen_children_in, show_in, shown_leaf_in
from .rows import _add, _get

if TYPE_CHECKING:
    from ...providers.reply import Reply


class RepliesMixin:
    """Replies being written (a part of :class:`ChatStore`; the chat service calls these)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    #: the columns of a message that a finished reply fills
    REPLY_FIELDS = (
        "content", "reasoning", "status", "error", "stop_reason", "input_tokens", "output_tokens",
        "usage_estimated", "ttft_ms", "duration_ms", "generation_ms",
    )  # fmt: skip

    def add_user_message(
        self,
        conversation_id: str,
        text: str,
        attachments: list[dict[str, str]],
        model: str,
        parent_id: str | None | type[...] = ...,
    ) -> str:
        """Commit a person's message (before any request goes out) and show it; returns its id.

        ``parent_id`` defaults to the leaf of the branch on show; None starts a new root.
        """

        def add(s: Session) -> str:
            conversation = _get(s, Conversation, conversation_id)
            if parent_id is ...:
                alive = [m for m in conversation.messages if m.deleted_at is None]
                path = visible_path(
                    alive, shown_leaf_in(s, conversation_id), chosen_children_in(s, conversation_id)
                )
                parent = path[-1].id if path else None
            else:
                parent = parent_id
            message = _add(
                s,
                Message(
                    conversation_id=conversation_id,
                    parent_id=parent,
                    role="user",
                    content=text,
                    attachments=attachments,
                ),
            )
            show_in(s, conversation_id, message.id)
            conversation.model = model
            conversation.last_message_at = message.created_at
            return message.id

        message_id = self.db.call(add)
        self._publish(Changes(messages=frozenset({conversation_id}), conversation_list=True))
        return message_id

    def begin_reply(self, conversation_id: str, parent_id: str | None, model: str, owner: str) -> str:
        """The reply's row, from before its first token: status streaming, written by ``owner``
        (host:pid), so that a crash leaves it to be marked interrupted. Returns its id."""

        def add(s: Session) -> str:
            conversation = _get(s, Conversation, conversation_id)
            reply = _add(
                s,
                Message(
                    conversation_id=conversation_id,
                    parent_id=parent_id,
                    role="assistant",
                    content="",
                    status=MessageStatus.STREAMING,
                    model=model,
                    stream_owner=owner,
                ),
            )
            show_in(s, conversation_id, reply.id)
            conversation.last_message_at = reply.created_at
            return reply.id

        reply_id = self.db.call(add)
        self._publish(Changes(messages=frozenset({conversation_id})))
        return reply_id

    def save_partial_reply(self, reply_id: str, text: str, reasoning: str) -> None:
        """What has streamed so far, while the reply still streams. Publishes nothing: the window
        shows a live reply from the generation, and a reload per flush would cost it frames."""

        def write(s: Session) -> None:
            message = s.get(Message, reply_id)
            if message is not None and message.status == MessageStatus.STREAMING:
                message.content, message.reasoning = text, reasoning or None

        self.db.call(write)

    def finish_reply(self, reply_id: str, reply: Reply, user_message_id: str | None = None) -> Changes:
        """The reply's final text, status and measurements (and an agent's turn, its tool calls); the
        first reply titles its conversation.

        ``reply`` must have ended (nothing appends to it any more): it is read on this thread.
        """
        fields = self.reply_fields(reply)
        if reply.tool_calls:
            calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
            fields["tool"] = {"calls": calls}

        def write(s: Session) -> tuple[str, bool]:
            message = _get(s, Message, reply_id)
            for key, value in fields.items():
                setattr(message, key, value)
            message.stream_owner = None
            conversation = s.get(Conversation, message.conversation_id)
            retitled = False
            if (
                conversation.title_is_automatic
                and conversation.title == "New conversation"
                and user_message_id
            ):
                user = s.get(Message, user_message_id)
                if user is not None:
                    conversation.title = automatic_title(user.content)
                    retitled = True
            conversation.updated_at = utcnow()
            return conversation.id, retitled

        conversation_id, retitled = self.db.call(write)
        return self._publish(
            Changes(
                messages=frozenset({conversation_id}),
                conversations=frozenset({conversation_id}),
                conversation_list=retitled,
            )
        )

    def add_tool_result(
        self, conversation_id: str, parent_id: str, content: str, tool: dict[str, Any]
    ) -> str:
        """One tool call's result (or error) as a ``tool`` message after the turn that called it (or
        the result before it), shown; ``tool`` holds call_id, name, source, is_error, duration_ms and
        approved_by. Returns its id."""

        def add(s: Session) -> str:
            _get(s, Conversation, conversation_id)
            message = _add(
                s,
                Message(
                    conversation_id=conversation_id,
                    parent_id=parent_id,
                    role="tool",
                    content=content,
                    tool=dict(tool),  # (an error result is a complete message: ``is_error`` says it)
                ),
            )
            show_in(s, conversation_id, message.id)
            return message.id

        message_id = self.db.call(add)
        self._publish(Changes(messages=frozenset({conversation_id})))
        return message_id

    @staticmethod
    def reply_fields(reply: Reply) -> dict[str, Any]:
        """A finished reply as the values of its message's columns (also what a recovery file holds)."""
        return {
            "content": reply.text, "reasoning": reply.reasoning or None, "status": str(reply.status),
            "error": reply.error, "stop_reason": reply.stop_reason, "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens, "usage_estimated": reply.usage_estimated,
            "ttft_ms": reply.ttft_ms, "duration_ms": reply.duration_ms, "generation_ms": reply.generation_ms,
        }  # fmt: skip

    def restore_reply(self, reply_id: str, saved: dict[str, Any]) -> bool:
        """A reply that could not be saved when it ended, from its recovery file (see chat/unsaved.py):
        written unless the row is gone or already holds more. Returns whether it was written."""
        fields = {k: v for k, v in saved.items() if k in self.REPLY_FIELDS}

        def write(s: Session) -> str | None:
            message = s.get(Message, reply_id)
            if message is None or len(message.content or "") > len(fields.get("content") or ""):
                return None
            for key, value in fields.items():
                setattr(message, key, value)
            message.stream_owner = None
            return message.conversation_id

        conversation_id = self.db.call(write)
        if conversation_id is not None:
            self._publish(Changes(messages=frozenset({conversation_id})))
        return conversation_id is not None
