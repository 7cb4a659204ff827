"""The chat store's reads of messages (all of a conversation's, one, the shown branch, everything a
chat view draws) and the switching of the branch this device shows."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Message
from ..tree import Branching, branching_of, children_map, visible_path
from ..views import MESSAGE_COLUMNS, NotFoundError, ShownConversation, ShownMessage, StoredMessage
from .branches import _messages_in, chosen_children_in, show_in, shown_leaf_in, visible_in
from .listing import _conversation_in, _model_for
from .rows import _alive


class MessagesMixin:
    """Messages and the shown branch (a part of :class:`ChatStore`)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    # -- messages ------------------------------------------------------------------

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """Every message of the conversation, all branches, oldest first."""
        return self.db.call(lambda s: _messages_in(s, conversation_id))

    def message(self, message_id: str) -> StoredMessage:
        def read(s: Session) -> StoredMessage:
            row = s.execute(select(*MESSAGE_COLUMNS).where(Message.id == message_id, _alive(Message))).first()
            if row is None:
                raise NotFoundError(f"No message with id {message_id}.")
            return StoredMessage.of_row(row)

        return self.db.call(read)

    def visible_messages(self, conversation_id: str) -> list[StoredMessage]:
        """The branch the conversation shows, root first."""
        return self.db.call(lambda s: visible_in(s, conversation_id))

    def shown_conversation(self, conversation_id: str) -> ShownConversation:
        """The conversation and the branch it shows, each message with its place among its siblings:
        everything a chat view draws, in one read."""

        def read(s: Session) -> ShownConversation:
            conversation = _conversation_in(s, conversation_id)
            messages = _messages_in(s, conversation_id)
            children = children_map(messages)
            shown = []
            for m in visible_path(
                messages, conversation.current_leaf_id, chosen_children_in(s, conversation_id)
            ):
                siblings = [c.id for c in children.get(m.parent_id, [m])]
                shown.append(ShownMessage(m, siblings.index(m.id) + 1, len(siblings)))
            return ShownConversation(conversation, tuple(shown), _model_for(s, conversation))

        return self.db.call(read)

    def branching(self, message_id: str) -> Branching:
        message = self.message(message_id)
        return branching_of(message, self.messages(message.conversation_id))

    # -- which branch is shown (per-device view state) -------------------------------------

    def shown_leaf(self, conversation_id: str) -> str | None:
        """The leaf of the branch this device shows (None: the newest)."""
        return self.db.call(lambda s: shown_leaf_in(s, conversation_id))

    def show_branch(self, conversation_id: str, leaf_id: str | None) -> None:
        """Show the branch ending at ``leaf_id`` (None: the newest)."""
        self.db.call(lambda s: show_in(s, conversation_id, leaf_id))
        self._publish(Changes(messages=frozenset({conversation_id})))

    def switch_branch(self, message_id: str, step: int) -> str:
        """Show the sibling ``step`` places away (-1 previous, +1 next); returns its id."""
        message = self.message(message_id)
        siblings = branching_of(message, self.messages(message.conversation_id)).sibling_ids
        index = siblings.index(message.id) + step
        if not 0 <= index < len(siblings):
            return message.id
        target = siblings[index]
        self.show_branch(message.conversation_id, target)
        return target

    def show_message(self, message_id: str) -> str:
        """Show the branch holding ``message_id`` if the shown one does not (a search hit on another
        branch); returns the message's conversation id."""

        def reveal(s: Session) -> tuple[str, bool]:
            row = s.execute(
                select(Message.conversation_id).where(Message.id == message_id, _alive(Message))
            ).first()
            if row is None:
                raise NotFoundError(f"No message with id {message_id}.")
            conversation_id = row[0]
            path = visible_path(
                _messages_in(s, conversation_id),
                shown_leaf_in(s, conversation_id),
                chosen_children_in(s, conversation_id),
            )
            if message_id in {m.id for m in path}:
                return conversation_id, False
            show_in(s, conversation_id, message_id)
            return conversation_id, True

        conversation_id, switched = self.db.call(reveal)
        if switched:
            self._publish(Changes(messages=frozenset({conversation_id})))
        return conversation_id

    def message_count(self) -> int:
        return self.db.call(lambda s: s.scalar(select(func.count(Message.id))) or 0)
