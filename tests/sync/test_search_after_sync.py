"""Messages that arrive by sync are found by search, also when a first sync brings a whole history at
once (indexed in one statement inside the pull's transaction rather than by the per-row trigger)."""

from __future__ import annotations

from sqlalchemy import text

from dataelan_desktop.core.chat.search_batch import BATCH_MIN
from dataelan_desktop.core.providers.reply import Reply
from dataelan_desktop.core.search import search_messages

from .conftest import PASSWORD, Device


def _found(device: Device, words: str) -> set[str]:
    return {hit.message_id for hit in search_messages(device.services.db, words, limit=500)}


def _index_matches_messages(device: Device) -> None:
    """FTS5's own check of the index against the messages table: raises if any row is missing,
    doubled or stale."""
    device.services.db.call(
        lambda s: s.execute(
            text("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        )
    )


def test_a_first_sync_of_a_long_history_is_searchable_and_later_edits_too(devices, live, user):
    a, b = devices
    a.engine.login(live.url, user, PASSWORD, "A")
    b.engine.login(live.url, user, PASSWORD, "B")
    # B has a message of its own before its first sync: the batch indexes only what arrives
    mine = b.store.create_conversation(title="Mine")
    kept = b.store.add_user_message(mine.id, "a teapot only on this device", [], "m:x")

    conv = a.store.create_conversation(title="Long")
    ids, parent = [], None
    for i in range(BATCH_MIN + 50):  # enough for the batch path
        parent = a.store.add_user_message(
            conv.id, f"note {i} about walrus{i}x habits", [], "m:x", parent_id=parent
        )
        ids.append(parent)
    reply = a.store.begin_reply(conv.id, parent, "m:x", "host:1")  # empty until finished below
    a.engine.sync_now()
    assert b.engine.sync_now().pulled > BATCH_MIN

    assert _found(b, "walrus17x") == {ids[17]}
    assert _found(b, "walrus") == set(ids)
    assert _found(b, "teapot") == {kept}
    _index_matches_messages(b)

    # a later edit of a message the batch indexed replaces its words in the index
    a.store.finish_reply(reply, Reply("m:x", "Quokkas sleep by day.", "complete"), parent)
    a.engine.sync_now()
    b.engine.sync_now()
    assert _found(b, "quokkas") == {reply}
    _index_matches_messages(b)

    # and B's own new message after the sync is indexed by the trigger as before
    added = b.store.add_user_message(conv.id, "a pelican arrives", [], "m:x", parent_id=reply)
    assert _found(b, "pelican") == {added}
    _index_matches_messages(b)
