"""Projects, conversations and the message tree as a user manipulates them."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.changes import Changes
from dataelan_desktop.core.chat.store import NotFoundError, automatic_title
from dataelan_desktop.core.db.tables import Message


def _message(services, conversation_id, role, text, parent=None):
    def add(s):
        m = Message(conversation_id=conversation_id, role=role, content=text, parent_id=parent)
        s.add(m)
        s.flush()
        return m.id

    return services.db.call(add)


def test_project_and_conversation_lifecycle_with_undo(services):
    seen: list[Changes] = []
    services.bus.subscribe(seen.append)
    project = services.store.create_project(
        "Research", instructions="Be brief.", default_model="openai:gpt-4o-mini"
    )
    conversation = services.store.create_conversation(project.id)
    assert conversation.model == "openai:gpt-4o-mini"  # the project's default model
    assert [c.id for c in services.store.conversations(project.id)] == [conversation.id]

    services.store.update_conversation(conversation.id, title="Renamed", pinned=True)
    assert services.store.conversation(conversation.id).title == "Renamed"

    services.store.delete_conversation(conversation.id)
    assert services.store.conversations(project.id) == []
    with pytest.raises(NotFoundError):
        services.store.conversation(conversation.id)
    services.store.restore_conversation(conversation.id)
    assert services.store.conversation(conversation.id).title == "Renamed"
    assert any(c.conversation_list for c in seen) and any(c.projects for c in seen)


def test_branches_are_siblings_and_the_shown_leaf_is_remembered(services):
    conversation = services.store.create_conversation()
    q = _message(services, conversation.id, "user", "question")
    a1 = _message(services, conversation.id, "assistant", "first answer", q)
    a2 = _message(services, conversation.id, "assistant", "second answer", q)

    visible = services.store.visible_messages(conversation.id)
    assert [m.content for m in visible] == ["question", "second answer"]  # newest branch by default
    branching = services.store.branching(a2)
    assert (branching.index, branching.count) == (2, 2)

    assert services.store.switch_branch(a2, -1) == a1
    assert [m.content for m in services.store.visible_messages(conversation.id)] == [
        "question",
        "first answer",
    ]
    assert services.store.switch_branch(a1, -1) == a1  # already the first: stays


def test_automatic_title_is_short_and_whole_words():
    assert automatic_title("  hello   world ") == "hello world"
    long = "word " * 40
    title = automatic_title(long)
    assert len(title) <= 60 and title.endswith("…") and "wor…" not in title
