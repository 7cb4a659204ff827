"""Full-text search finds words, survives tricky input, and ignores deleted conversations."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.db.tables import Message
from dataelan_desktop.core.search import MARK_START, fts_query, search_messages


def add(services, conversation_id: str, role: str, text: str) -> str:
    def write(s):
        m = Message(conversation_id=conversation_id, role=role, content=text)
        s.add(m)
        s.flush()
        return m.id

    return services.db.call(write)


@pytest.fixture
def corpus(services):
    a = services.store.create_conversation(title="Kitchen")
    b = services.store.create_conversation(title="Code")
    add(services, a.id, "user", "How do I caramelise onions slowly?")
    add(services, a.id, "assistant", "Cook the onions on low heat for forty minutes.")
    add(services, b.id, "user", "Why does my C++ template fail to compile?")
    add(services, b.id, "assistant", "Templates must be visible where they are instantiated. Café naïve.")
    return services, a.id, b.id


def test_finds_words_and_prefixes(corpus):
    services, kitchen, code = corpus
    hits = search_messages(services.db, "onions")
    assert {h.conversation_id for h in hits} == {kitchen} and len(hits) == 2
    assert all(MARK_START in h.snippet for h in hits)
    assert [h.conversation_title for h in search_messages(services.db, "instanti")] == [
        "Code"
    ]  # prefix of the last word
    assert search_messages(services.db, "onions heat")[0].role == "assistant"  # every word must match


@pytest.mark.parametrize(
    "tricky", ['"unbalanced', "a OR", "C++", "NEAR(", "*", "-", "   ", "'; DROP TABLE messages; --"]
)
def test_tricky_input_never_errors(corpus, tricky):
    services, *_ = corpus
    assert isinstance(search_messages(services.db, tricky), list)
    assert services.store.message_count() == 4


def test_cplusplus_and_accents(corpus):
    services, _, code = corpus
    assert [h.conversation_id for h in search_messages(services.db, "C++ template")] == [code]
    assert [h.conversation_id for h in search_messages(services.db, "cafe")] == [code]  # diacritics folded


def test_deleted_conversations_are_not_found(corpus):
    services, kitchen, _ = corpus
    services.store.delete_conversation(kitchen)
    assert search_messages(services.db, "onions") == []
    services.store.restore_conversation(kitchen)
    assert len(search_messages(services.db, "onions")) == 2


def test_query_builder_quotes_terms():
    assert fts_query('say "hi" OR bye') == '"say" "hi" "OR" "bye"*'
    assert fts_query("!!!") is None
