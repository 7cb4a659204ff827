"""Projects, conversations and messages: the one writer of their tables, and their reads.

Every insert, update and delete of ``projects``, ``conversations`` and ``messages`` happens
here, and each publishes what changed. Reads return plain frozen views, never ORM rows, so
that any thread or widget may hold them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from ..changes import ChangeBus, Changes
from ..db import Database
from ..db.tables import Conversation, ConversationViewState, Message, MessageStatus, Project, utcnow
from .tree import Branching, branching_of, children_map, chosen_along, visible_path
from .views import (  # noqa: F401 - the store's views, imported from here by callers
    MESSAGE_COLUMNS,
    TITLE_LENGTH,
    ConversationSummary,
    ConversationView,
    NotFoundError,
    ProjectView,
    ShownConversation,
    ShownMessage,
    StoredMessage,
    automatic_title,
)

if TYPE_CHECKING:
    from ..providers.reply import Reply


def _alive(model):
    return model.deleted_at.is_(None)


def _check_fields(what: str, fields: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


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


class ChatStore:
    """Synchronous data access; every call runs on the database thread (see :meth:`Database.call`).
    Async callers await :meth:`Database.in_thread`; windows go through ``ui/ops``."""

    def __init__(self, db: Database, bus: ChangeBus | None = None):
        self.db = db
        self.bus = bus or ChangeBus()

    def _publish(self, changes: Changes) -> Changes:
        self.bus.publish(changes)
        return changes

    # -- projects ------------------------------------------------------------------

    def create_project(
        self, name: str, instructions: str | None = None, default_model: str | None = None
    ) -> ProjectView:
        name = name.strip()
        if not name:
            raise ValueError("A project needs a name.")
        project = self.db.call(
            lambda s: ProjectView.of(
                _add(s, Project(name=name, instructions=instructions, default_model=default_model))
            )
        )
        self._publish(Changes(projects=True))
        return project

    def projects(self) -> list[ProjectView]:
        return self.db.call(_projects_in)

    def project(self, project_id: str) -> ProjectView:
        return self.db.call(lambda s: ProjectView.of(_get(s, Project, project_id)))

    def project_by_name(self, name: str) -> ProjectView | None:
        def find(s: Session) -> ProjectView | None:
            row = s.scalars(select(Project).where(_alive(Project), Project.name == name.strip())).first()
            return ProjectView.of(row) if row is not None else None

        return self.db.call(find)

    def update_project(self, project_id: str, **fields) -> ProjectView:
        _check_fields("project", fields, {"name", "instructions", "default_model", "sort_order", "agent_id"})

        def change(s: Session) -> ProjectView:
            project = _get(s, Project, project_id)
            for key, value in fields.items():
                setattr(project, key, value)
            s.flush()
            return ProjectView.of(project)

        project = self.db.call(change)
        self._publish(Changes(projects=True))
        return project

    def delete_project(self, project_id: str) -> None:
        """Soft-delete the project and its conversations (undo restores both)."""
        now = datetime.now(UTC)

        def delete(s: Session) -> None:
            _get(s, Project, project_id).deleted_at = now
            s.execute(
                update(Conversation)
                .where(Conversation.project_id == project_id, Conversation.deleted_at.is_(None))
                .values(deleted_at=now)
            )

        self.db.call(delete)
        self._publish(Changes(projects=True, conversation_list=True))

    # -- conversations -------------------------------------------------------------

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

    # -- replies being written (the chat service calls these) --

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


# -- crash recovery ---------------------------------------------------------------------


def mark_interrupted(db: Database) -> int:
    """Replies still marked streaming whose writing process is gone (or is this one, starting again)
    become interrupted, their text kept. Returns how many."""
    from ..db.engine import process_alive, this_process

    def fix(session: Session) -> int:
        rows = session.execute(
            select(Message.id, Message.stream_owner).where(Message.status == MessageStatus.STREAMING)
        ).all()
        dead = [mid for mid, owner in rows if not process_alive(owner) or owner == this_process()]
        if dead:
            session.execute(
                update(Message)
                .where(Message.id.in_(dead))
                .values(status=MessageStatus.INTERRUPTED, stream_owner=None)
            )
        return len(dead)

    return db.call(fix)


def _add(session: Session, row):
    session.add(row)
    session.flush()
    return row


def _get(session: Session, model, row_id: str | None):
    row = session.get(model, row_id) if row_id else None
    if row is None or row.deleted_at is not None:
        raise NotFoundError(f"No {model.__tablename__[:-1]} with id {row_id}.")
    return row


# -- imports (core/transfer calls this) --

from typing import TYPE_CHECKING  # noqa: E402 - this section is appended, the file's head is not ours

if TYPE_CHECKING:  # the importer's types; core/transfer imports this module, not the other way round
    from ..transfer.parsed import ImportResult, ParsedImport


def import_conversations(self: ChatStore, parsed: ParsedImport) -> ImportResult:
    """Write a checked import (``core/transfer`` parsed and validated it) in one transaction: all of
    it or, on any failure, nothing; then publish what changed. Conversations imported before (same
    source id) are skipped and counted."""
    from ..db.tables import new_id
    from ..transfer.parsed import ImportResult

    def write(s: Session) -> tuple[list[str], int, int, str | None]:
        known = {
            (c.settings or {}).get("import_source")
            for c in s.scalars(select(Conversation).where(_alive(Conversation)))
        }
        project_id = None
        if parsed.project is not None:
            project = s.scalars(
                select(Project).where(_alive(Project), Project.name == parsed.project.name)
            ).first()
            if project is None:
                project = _add(s, Project(name=parsed.project.name, instructions=parsed.project.instructions,
                                          default_model=parsed.project.default_model))  # fmt: skip
            project_id = project.id
        created, count, skipped = [], 0, 0
        for conv in parsed.conversations:
            if conv.source_id in known:
                skipped += 1
                continue
            conversation = Conversation(
                project_id=project_id, title=conv.title, title_is_automatic=False, system_prompt=conv.system_prompt,
                model=conv.model, settings={"import_source": conv.source_id},
            )  # fmt: skip
            if conv.created_at:
                conversation.created_at = conversation.updated_at = conv.created_at
            _add(s, conversation)
            new_ids = {m.source_id: new_id() for m in conv.messages}
            for m in conv.messages:
                row = Message(
                    id=new_ids[m.source_id], conversation_id=conversation.id,
                    parent_id=new_ids[m.parent_source_id] if m.parent_source_id else None,
                    role=m.role, content=m.content, model=m.model, status=m.status, error=m.error,
                    stop_reason=m.stop_reason, input_tokens=m.input_tokens, output_tokens=m.output_tokens,
                    ttft_ms=m.ttft_ms, duration_ms=m.duration_ms,
                    attachments=[a.record() for a in m.attachments],
                    tool=dict(m.tool) if m.tool else None,
                )  # fmt: skip
                if m.created_at:
                    row.created_at = row.updated_at = m.created_at
                s.add(row)
            s.flush()
            stamps = [m.created_at for m in conv.messages if m.created_at]
            conversation.last_message_at = max(stamps) if stamps else conversation.created_at
            leaf = conv.current_leaf_source_id
            if leaf:  # which branch is shown: this device's view state
                show_in(s, conversation.id, new_ids.get(leaf))
            created.append(conversation.id)
            count += len(conv.messages)
            written.extend(conv.messages)
        return created, count, skipped, project_id

    written: list = []  # the messages of the conversations written (not those imported before)
    created, count, skipped, project_id = self.db.call(write)
    self._publish(Changes(projects=parsed.project is not None, conversation_list=True))
    return ImportResult(created, parsed.format, count, skipped, parsed.repaired_characters, project_id,
                        images_kept=sum(a.kind == "image" for m in written for a in m.attachments),
                        images_missing=parsed.images_missing, tool_steps=sum(m.role == "tool" for m in written))  # fmt: skip


ChatStore.import_conversations = import_conversations  # type: ignore[attr-defined]  # a method, kept in this section


# -- changes pulled from the sync server (core/sync/engine.py calls this) --


def apply_remote(self: ChatStore, changes: Sequence[Any]) -> Changes:
    """Merge pulled changes to projects, conversations and messages (core/sync/apply.py decides what
    to write, by the merge rules; this store writes it), then publish what changed."""
    from ..sync.apply import remote_writes, touched  # sync's edge: loaded once signed in
    from .bulk_insert import insert_or_keep
    from .search_batch import BATCH_MIN, BatchIndex

    seen = touched(changes, {"messages": "conversation_id"})
    talked = sorted(seen.parents.get("messages", ()))

    inserted = sum(1 for c in changes if c.table == "messages" and c.kind == "insert")

    def write(s: Session) -> None:
        # many new messages (a first sync): indexed for search in one statement, not by the per-row trigger
        batch = BatchIndex(s.connection()) if inserted >= BATCH_MIN else None
        for statement, params in remote_writes(s, changes):
            new_messages = getattr(statement, "is_insert", False) and statement.table is Message.__table__
            if batch is not None:
                if new_messages:
                    batch.begin()
                else:
                    batch.finish()  # before any update: the update trigger expects the old text indexed
            if new_messages:  # many rows: one prepared statement, not SQLAlchemy's per-row bookkeeping
                insert_or_keep(s.connection(), Message.__table__, params)
            else:
                s.execute(statement, params)
        if batch is not None:
            batch.finish()
        newest = (
            select(func.max(Message.created_at))
            .where(Message.conversation_id == Conversation.id)
            .scalar_subquery()
        )
        for i in range(0, len(talked), 400):  # last_message_at is derived here, never synced
            s.execute(
                update(Conversation)
                .where(Conversation.id.in_(talked[i : i + 400]))
                .values(last_message_at=func.coalesce(newest, Conversation.created_at))
            )

    self.db.call(write)
    return self._publish(
        Changes(
            projects="projects" in seen.tables,
            conversations=frozenset(seen.rows.get("conversations", ())),
            conversation_list=bool(seen.tables & {"projects", "conversations"}),
            messages=frozenset(seen.parents.get("messages", ())),
        )
    )


ChatStore.apply_remote = apply_remote  # type: ignore[attr-defined]  # a method, kept in this section
