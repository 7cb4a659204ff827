"""The chat store's conversations: creating them (empty, or filled with given messages), listing and
reading them, changing their own fields and settings, deleting and restoring them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Conversation, ConversationViewState, Message, Project
from ..views import MESSAGE_COLUMNS, ConversationSummary, ConversationView, NotFoundError, ProjectView
from .branches import show_in, shown_leaf_in
from .listing import _conversation_in, _conversation_list_in, _last_activity, _projects_in
from .rows import _add, _alive, _check_fields, _get


class ConversationsMixin:
    """Conversations (a part of :class:`ChatStore`)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    def create_conversation(
        self,
        project_id: str | None = None,
        system_prompt: str | None = None,
        model: str | None = None,
        title: str | None = None,
    ) -> ConversationView:
        def create(s: Session) -> ConversationView:
            project = _get(s, Project, project_id) if project_id else None
            conversation = Conversation(
                project_id=project_id,
                system_prompt=system_prompt,
                model=model or (project.default_model if project else None),
            )
            if title:
                conversation.title, conversation.title_is_automatic = title, False
            return ConversationView.of(_add(s, conversation), None)

        conversation = self.db.call(create)
        self._publish(Changes(conversation_list=True))
        return conversation

    def fresh_conversation(
        self, project_id: str | None = None, model: str | None = None, *, chosen_model: str | None = None
    ) -> ConversationView:
        """A conversation to start writing in: the project's (or the list's) empty one if there is one
        (pressing New twice must not leave two empty rows), else a new one. Its model: ``chosen_model``
        (a model file just opened), else the project's default model, else ``model`` (the picker's)."""

        def find_or_create(s: Session) -> tuple[ConversationView, bool]:
            project = _get(s, Project, project_id) if project_id else None
            chosen = chosen_model or (project.default_model if project else None) or model
            has_message = select(Message.id).where(
                Message.conversation_id == Conversation.id, _alive(Message)
            )
            empty = s.scalars(
                select(Conversation)
                .where(
                    _alive(Conversation),
                    Conversation.archived.is_(False),
                    Conversation.project_id == project_id
                    if project_id
                    else Conversation.project_id.is_(None),
                    Conversation.title_is_automatic.is_(True),
                    Conversation.system_prompt.is_(None),
                    ~has_message.exists(),
                )
                .order_by(Conversation.created_at.desc())
                .limit(1)
            ).first()
            if empty is None:
                created = _add(s, Conversation(project_id=project_id, model=chosen))
                return ConversationView.of(created, None), True
            if chosen and empty.model != chosen:
                empty.model = chosen
                s.flush()
            return ConversationView.of(empty, shown_leaf_in(s, empty.id)), False

        conversation, created = self.db.call(find_or_create)
        self._publish(Changes(conversation_list=created, conversations=frozenset({conversation.id})))
        return conversation

    def create_filled_conversation(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        title: str,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> str:
        """A conversation holding ``messages`` (each the fields of one message, the first the root, each
        next one the reply to the one before), showing the last. Returns its id."""
        allowed = {c.key for c in MESSAGE_COLUMNS} - {"id", "conversation_id", "parent_id", "created_at",
                                                       "updated_at", "stream_owner"}  # fmt: skip
        for fields in messages:
            _check_fields("message", fields, allowed)

        def write(s: Session) -> str:
            conversation = _add(
                s,
                Conversation(title=title, title_is_automatic=False, model=model, system_prompt=system_prompt),
            )
            parent = None
            for fields in messages:
                added = _add(s, Message(conversation_id=conversation.id, parent_id=parent, **fields))
                parent, conversation.last_message_at = added.id, added.created_at
            show_in(s, conversation.id, parent)
            return conversation.id

        conversation_id = self.db.call(write)
        self._publish(Changes(conversation_list=True))
        return conversation_id

    def conversation(self, conversation_id: str) -> ConversationView:
        return self.db.call(lambda s: _conversation_in(s, conversation_id))

    def conversations(
        self,
        project_id: str | None = None,
        *,
        all_projects: bool = False,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> list[ConversationView]:
        def query(s: Session) -> list[ConversationView]:
            q = (
                select(Conversation, ConversationViewState.current_leaf_id)
                .outerjoin(ConversationViewState, ConversationViewState.conversation_id == Conversation.id)
                .where(_alive(Conversation))
            )
            if not all_projects:
                q = q.where(
                    Conversation.project_id == project_id if project_id else Conversation.project_id.is_(None)
                )
            if not include_archived:
                q = q.where(Conversation.archived.is_(False))
            q = q.order_by(Conversation.pinned.desc(), _last_activity().desc())
            if limit:
                q = q.limit(limit)
            return [ConversationView.of(c, leaf) for c, leaf in s.execute(q)]

        return self.db.call(query)

    def recent_models(self, limit: int = 50) -> list[str]:
        """The models of the newest conversations, newest first, each once."""
        rows = self.db.call(
            lambda s: s.scalars(
                select(Conversation.model)
                .where(_alive(Conversation), Conversation.model.is_not(None))
                .order_by(Conversation.updated_at.desc())
                .limit(limit)
            ).all()
        )
        return list(dict.fromkeys(rows))

    def has_messages(self, conversation_id: str) -> bool:
        """Whether the conversation has begun (any live message)."""
        return self.db.call(
            lambda s: (
                s.scalar(
                    select(Message.id)
                    .where(Message.conversation_id == conversation_id, _alive(Message))
                    .limit(1)
                )
                is not None
            )
        )

    def conversation_list(self, limit: int) -> tuple[list[ConversationSummary], int]:
        """The newest ``limit`` live, unarchived conversations of every project (pinned first), and how many
        there are in all: a sidebar lists a page of a long history instead of every row."""
        return self.db.call(lambda s: _conversation_list_in(s, limit))

    def archived_list(self, limit: int = 1000) -> list[ConversationSummary]:
        """The archived conversations, newest message first: what the sidebar's Archived view lists."""
        return self.db.call(lambda s: _conversation_list_in(s, limit, archived=True)[0])

    def library(self, limit: int) -> tuple[list[ProjectView], list[ConversationSummary], int]:
        """What a sidebar lists, in one read: the projects, and :meth:`conversation_list`'s page and count."""
        return self.db.call(lambda s: (_projects_in(s), *_conversation_list_in(s, limit)))

    def update_conversation(self, conversation_id: str, **fields) -> ConversationView:
        """Change the conversation's own fields; ``current_leaf_id`` (this device's shown branch) is
        accepted too and kept apart from them (see :meth:`show_branch`)."""
        shown = fields.pop("current_leaf_id", ...)
        _check_fields(
            "conversation",
            fields,
            {"title", "system_prompt", "model", "pinned", "archived", "project_id", "settings", "agent_id"},
        )

        def change(s: Session) -> ConversationView:
            conversation = _get(s, Conversation, conversation_id)
            for key, value in fields.items():
                setattr(conversation, key, value)
            if "title" in fields:
                conversation.title_is_automatic = False
            s.flush()
            if shown is not ...:
                show_in(s, conversation_id, shown)
            return ConversationView.of(conversation, shown_leaf_in(s, conversation_id))

        conversation = self.db.call(change)
        messages = frozenset({conversation_id}) if shown is not ... else frozenset()
        self._publish(
            Changes(conversations=frozenset({conversation_id}), conversation_list=True, messages=messages)
        )
        return conversation

    def set_conversation_setting(self, conversation_id: str, key: str, value: Any) -> ConversationView:
        """One of the conversation's settings (its context choice, a kept summary…), the others kept."""

        def change(s: Session) -> ConversationView:
            conversation = _get(s, Conversation, conversation_id)
            conversation.settings = {**(conversation.settings or {}), key: value}
            s.flush()
            return ConversationView.of(conversation, shown_leaf_in(s, conversation_id))

        conversation = self.db.call(change)
        self._publish(Changes(conversations=frozenset({conversation_id})))
        return conversation

    def set_system_prompt_if_new(self, conversation_id: str, system_prompt: str) -> bool:
        """Give a conversation not yet begun this system prompt; False (nothing changed) once it has
        begun: put under earlier replies, it would change what they were answers to."""
        if self.has_messages(conversation_id):
            return False
        self.update_conversation(conversation_id, system_prompt=system_prompt)
        return True

    def delete_conversation(self, conversation_id: str) -> None:
        self.db.call(
            lambda s: setattr(_get(s, Conversation, conversation_id), "deleted_at", datetime.now(UTC))
        )
        self._publish(Changes(conversation_list=True))

    def restore_conversation(self, conversation_id: str) -> None:
        """Undo a delete."""

        def restore(s: Session) -> None:
            conversation = s.get(Conversation, conversation_id)
            if conversation is None:
                raise NotFoundError(f"No conversation {conversation_id}.")
            conversation.deleted_at = None
            if conversation.project_id:
                project = s.get(Project, conversation.project_id)
                if project is not None:
                    project.deleted_at = None

        self.db.call(restore)
        self._publish(Changes(projects=True, conversation_list=True))
