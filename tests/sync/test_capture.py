"""Capture: a change to a synced table is a stamped operation in the outbox, in its own transaction;
view state and streaming replies are not; signing in records a device's whole history once."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from dataelan_desktop.core.providers.reply import Reply
from dataelan_desktop.core.sync.store import SyncStore
from dataelan_desktop.core.sync.tables import SyncOutboxRow


def _outbox(services) -> list[tuple[str, str, str | None]]:
    return services.db.call(
        lambda s: [
            (r.table_name, r.kind, r.field)
            for r in s.scalars(select(SyncOutboxRow).order_by(SyncOutboxRow.op_id))
        ]
    )


def _sign_in(services) -> SyncStore:
    store = SyncStore(services.db, services.bus)
    store.device_id()
    store.sign_in("http://127.0.0.1:9", "alice", "laptop", 0)
    return store


def test_nothing_is_recorded_while_signed_out(services):
    services.store.create_conversation(title="private")
    assert _outbox(services) == []


def test_a_rename_is_one_stamped_operation_and_view_state_is_none(services):
    _sign_in(services)
    conv = services.store.create_conversation(title="first")
    ops = _outbox(services)
    assert ("conversations", "insert", None) in ops and ("conversations", "set", "title") in ops
    before = len(ops)
    services.store.update_conversation(conv.id, title="second")
    assert _outbox(services)[before:] == [("conversations", "set", "title")]
    mid = services.store.add_user_message(conv.id, "hello", [], "m:x")
    services.store.show_branch(conv.id, mid)  # which branch this device shows: never synced
    added = _outbox(services)[before + 1 :]
    assert ("messages", "insert", None) in added
    assert not any(t == "conversation_views" for t, _k, _f in _outbox(services))
    stamps = services.db.call(
        lambda s: [r.hlc for r in s.scalars(select(SyncOutboxRow).order_by(SyncOutboxRow.op_id))]
    )
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # each later than the one before


def test_a_reply_is_held_back_while_it_streams_and_sent_whole_when_it_ends(services):
    _sign_in(services)
    conv = services.store.create_conversation()
    question = services.store.add_user_message(conv.id, "why?", [], "m:x")
    reply_id = services.store.begin_reply(conv.id, question, "m:x", "host:1")
    services.store.save_partial_reply(reply_id, "because", "")
    held = [op for op in _outbox(services) if op[0] == "messages"]
    assert len(held) == 1  # the question only
    reply = Reply("m:x", "because of reasons", "complete")
    services.store.finish_reply(reply_id, reply, question)
    rows = services.db.call(
        lambda s: [
            r.value for r in s.scalars(select(SyncOutboxRow).where(SyncOutboxRow.table_name == "messages"))
        ]
    )
    assert len(rows) == 2
    assert rows[1]["status"] == "complete" and rows[1]["content"] == "because of reasons"


def test_a_crashed_reply_is_sent_once_marked_interrupted(services):
    from dataelan_desktop.core.chat.store import mark_interrupted

    _sign_in(services)
    conv = services.store.create_conversation()
    question = services.store.add_user_message(conv.id, "why?", [], "m:x")
    services.store.begin_reply(conv.id, question, "m:x", f"{socket.gethostname()}:999999999")  # a dead writer
    services.store.save_partial_reply(services.store.messages(conv.id)[-1].id, "half an ans", "")
    mark_interrupted(services.db)  # a bulk update: captured too
    values = services.db.call(
        lambda s: [
            r.value for r in s.scalars(select(SyncOutboxRow).where(SyncOutboxRow.table_name == "messages"))
        ]
    )
    assert [v["status"] for v in values] == ["complete", "interrupted"]
    assert values[1]["content"] == "half an ans"


def test_a_failed_transaction_leaves_no_operation(services):
    _sign_in(services)
    conv = services.store.create_conversation(title="kept")
    before = _outbox(services)

    def half_then_fail(s):
        from dataelan_desktop.core.db.tables import Conversation

        s.get(Conversation, conv.id).title = "never"
        s.flush()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        services.db.call(half_then_fail)
    assert _outbox(services) == before


def test_signing_in_records_the_history_once_and_bulk_deletes_are_tombstones(services):
    project = services.store.create_project("Work")
    conv = services.store.create_conversation(project_id=project.id, title="old")
    services.store.add_user_message(conv.id, "from before sync", [], "m:x")
    store = _sign_in(services)
    ops = _outbox(services)
    assert {
        ("projects", "insert", None),
        ("conversations", "insert", None),
        ("messages", "insert", None),
    } <= set(ops)
    store.sign_in("http://127.0.0.1:9", "alice", "laptop", 0)  # again: nothing new to record
    assert _outbox(services) == ops
    services.store.delete_project(project.id)  # an UPDATE ... WHERE over its conversations
    tail = _outbox(services)[len(ops) :]
    assert ("projects", "set", "deleted_at") in tail and ("conversations", "set", "deleted_at") in tail
