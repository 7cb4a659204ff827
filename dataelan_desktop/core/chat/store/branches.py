"""Which branch of a conversation this device shows, and the reads that follow it: the leaf shown, the
child last shown under each message, showing a branch, and the messages of the shown branch. The
chat service also calls these, inside its own sessions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from ...db.tables import ConversationViewState, Message, utcnow
from ..tree import chosen_along, visible_path
from ..views import MESSAGE_COLUMNS, StoredMessage
from .rows import _alive

# -- which branch is shown (the chat service also calls these, inside its own sessions) ------
# Per-device view state: kept in ``conversation_views``, apart from the conversation's own row, so
# that sync can copy conversations without copying which branch one device happens to show.


def shown_leaf_in(session: Session, conversation_id: str) -> str | None:
    """The leaf this device shows for the conversation (None: the newest)."""
    return session.scalar(
        select(ConversationViewState.current_leaf_id).where(
            ConversationViewState.conversation_id == conversation_id
        )
    )


def chosen_children_in(session: Session, conversation_id: str) -> dict[str, str]:
    """Under each message of the conversation, the child this device showed last (see tree.visible_path)."""
    found = session.scalar(
        select(ConversationViewState.chosen).where(ConversationViewState.conversation_id == conversation_id)
    )
    return dict(found or {})


def show_in(session: Session, conversation_id: str, leaf_id: str | None) -> None:
    """Show the branch ending at ``leaf_id`` (None: the newest), and remember along it which child was
    shown under each message. The conversation's row is untouched."""
    now = utcnow()
    chosen = chosen_children_in(session, conversation_id)
    if leaf_id is not None:
        parents = dict(
            session.execute(
                select(Message.id, Message.parent_id).where(Message.conversation_id == conversation_id)
            ).all()
        )
        chosen.update(chosen_along(leaf_id, parents))
    session.execute(
        insert(ConversationViewState)
        .values(conversation_id=conversation_id, current_leaf_id=leaf_id, chosen=chosen, updated_at=now)
        .on_conflict_do_update(
            index_elements=[ConversationViewState.conversation_id],
            set_={"current_leaf_id": leaf_id, "chosen": chosen, "updated_at": now},
        )
    )


def _messages_in(session: Session, conversation_id: str) -> list[StoredMessage]:
    rows = session.execute(
        select(*MESSAGE_COLUMNS)
        .where(Message.conversation_id == conversation_id, _alive(Message))
        .order_by(Message.created_at, Message.id)
    ).all()
    return [StoredMessage.of_row(r) for r in rows]


def visible_in(session: Session, conversation_id: str) -> list[StoredMessage]:
    """The branch the conversation shows on this device, root first."""
    return visible_path(
        _messages_in(session, conversation_id),
        shown_leaf_in(session, conversation_id),
        chosen_children_in(session, conversation_id),
    )
