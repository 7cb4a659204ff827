"""The reads the store's lists and views share: the projects, a page of the conversation list (ordered
by last activity), one conversation with the leaf it shows, and the model a conversation uses."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...db.tables import Conversation, Project
from ..views import ConversationSummary, ConversationView, ProjectView
from .branches import shown_leaf_in
from .rows import _alive, _get


def _projects_in(session: Session) -> list[ProjectView]:
    rows = session.scalars(select(Project).where(_alive(Project)).order_by(Project.sort_order, Project.name))
    return [ProjectView.of(p) for p in rows]


def _last_activity():
    """When a conversation last had a message (its creation when it has none): lists order by it, so that
    renaming, pinning or switching a branch never moves a conversation."""
    return func.coalesce(Conversation.last_message_at, Conversation.created_at)


def _conversation_list_in(
    session: Session, limit: int, archived: bool = False
) -> tuple[list[ConversationSummary], int]:
    shown = (_alive(Conversation), Conversation.archived.is_(archived))
    rows = session.execute(
        select(Conversation.id, Conversation.title, Conversation.pinned, Conversation.project_id)
        .where(*shown)
        .order_by(Conversation.pinned.desc(), _last_activity().desc())
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(Conversation).where(*shown)) or 0
    return [ConversationSummary(*row) for row in rows], total


def _model_for(session: Session, conversation: ConversationView) -> str | None:
    if conversation.model or not conversation.project_id:
        return conversation.model
    project = session.get(Project, conversation.project_id)
    return project.default_model if project is not None and project.deleted_at is None else None


def _conversation_in(session: Session, conversation_id: str) -> ConversationView:
    return ConversationView.of(
        _get(session, Conversation, conversation_id), shown_leaf_in(session, conversation_id)
    )
