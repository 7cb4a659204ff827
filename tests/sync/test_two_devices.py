"""Two app databases sync through a real server process (SQLite and PostgreSQL behind it)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from dataelan_desktop.core.providers.reply import Reply
from dataelan_desktop.core.sync.client import AuthError, ServerUnavailableError
from dataelan_desktop.core.sync.engine import NotSignedInError
from dataelan_desktop.server import accounts
from dataelan_desktop.server.db import Database as ServerDatabase
from tests.server.live import free_port

from .conftest import PASSWORD, Device


def _sign_in(device: Device, live, user: str, name: str) -> None:
    device.engine.login(live.url, user, PASSWORD, name)


def _talk(device: Device, conv_id: str, question: str, answer: str, parent=...) -> tuple[str, str]:
    store = device.store
    q = store.add_user_message(conv_id, question, [], "m:x", parent_id=parent)
    r = store.begin_reply(conv_id, q, "m:x", "host:1")
    store.finish_reply(r, Reply("m:x", answer, "complete"), q)
    return q, r


def test_a_conversation_with_branches_made_on_a_appears_on_b_with_every_message(devices, live, user):
    a, b = devices
    _sign_in(a, live, user, "A")
    _sign_in(b, live, user, "B")
    project = a.store.create_project("Garden", instructions="be brief")
    conv = a.store.create_conversation(project_id=project.id)
    q1, _r1 = _talk(a, conv.id, "Which roses?", "Climbing ones.")
    _talk(a, conv.id, "Why climbing?", "They cover walls.")
    _talk(
        a, conv.id, "Which roses, for shade?", "Try 'Albéric Barbier'.", parent=None
    )  # a second root branch
    a.store.update_conversation(conv.id, pinned=True)
    a.engine.sync_now()
    report = b.engine.sync_now()
    assert report.pulled > 0
    on_a = {m.id: (m.parent_id, m.role, m.content, m.status) for m in a.store.messages(conv.id)}
    on_b = {m.id: (m.parent_id, m.role, m.content, m.status) for m in b.store.messages(conv.id)}
    assert on_b == on_a and len(on_b) == 6
    seen = b.store.conversation(conv.id)
    assert (seen.title, seen.pinned, seen.project_id) == ("Which roses?", True, project.id)
    assert b.store.project(project.id).instructions == "be brief"
    assert b.engine.status().pending == 0  # nothing pulled is sent back
    b.engine.sync_now()
    assert a.engine.sync_now().pulled == 0


def test_concurrent_renames_converge_and_deletions_are_tombstones(devices, live, user):
    a, b = devices
    _sign_in(a, live, user, "A")
    conv = a.store.create_conversation(title="start")
    other = a.store.create_conversation(title="to delete")
    a.engine.sync_now()
    _sign_in(b, live, user, "B")
    b.engine.sync_now()
    a.store.update_conversation(conv.id, title="from A")  # offline from each other, both rename
    b.store.update_conversation(conv.id, title="from B")
    b.store.delete_conversation(other.id)
    for _ in range(2):
        a.engine.sync_now()
        b.engine.sync_now()
    assert (
        a.store.conversation(conv.id).title == b.store.conversation(conv.id).title == "from B"
    )  # B wrote last
    assert {c.id for c in a.store.conversations()} == {c.id for c in b.store.conversations()} == {conv.id}


def test_changes_made_offline_wait_and_go_when_the_server_is_back(devices, live, user):
    a, b = devices
    _sign_in(a, live, user, "A")
    _sign_in(b, live, user, "B")
    dead = f"http://127.0.0.1:{free_port()}"
    online = a.engine._http
    a.engine.close()
    a.engine._http = lambda _url: httpx.Client(base_url=dead, timeout=2)  # the network is gone
    conv = a.store.create_conversation(title="on the train")
    _talk(a, conv.id, "written offline", "answered by a local model")
    with pytest.raises(ServerUnavailableError, match="your changes are kept"):
        a.engine.sync_now()
    status = a.engine.status()
    assert status.pending > 0 and "your changes are kept" in status.last_error
    a.engine.close()
    a.engine._http = online
    a.engine.sync_now()
    assert a.engine.status().pending == 0 and a.engine.status().last_error is None
    b.engine.sync_now()
    assert [m.content for m in b.store.messages(conv.id)] == ["written offline", "answered by a local model"]


def test_a_revoked_device_is_told_in_one_sentence_and_keeps_its_changes(devices, live, user):
    a, _b = devices
    _sign_in(a, live, user, "A")
    a.engine.sync_now()
    db = ServerDatabase(live.database_url)
    with db.session() as session:
        accounts.revoke_device(session, None, a.engine.status().device_id)
    db.close()
    a.store.create_conversation(title="after the revocation")
    with pytest.raises(AuthError, match="sign in again"):
        a.engine.sync_now()
    assert a.engine.status().pending > 0
    _sign_in(a, live, user, "A")  # signing in again sends what waited
    a.engine.sync_now()
    assert a.engine.status().pending == 0


def test_with_a_passphrase_no_words_reach_the_server_and_a_wrong_one_is_refused(devices, live, user):
    from dataelan_desktop.core.sync.engine import LockedError
    from dataelan_desktop.core.sync.seal import SealError

    a, b = devices
    _sign_in(a, live, user, "A")
    a.engine.set_passphrase("a long and secret passphrase")
    conv = a.store.create_conversation(title="Tax letter to Mr Okonkwo")
    _talk(a, conv.id, "Draft my xylophone-tax appeal", "Dear xylophone authority")
    a.engine.sync_now()
    db = ServerDatabase(live.database_url)
    with db.session() as session:
        dump = " ".join(
            str(row)
            for table in ("op_log", "sync_rows", "sync_registers")
            for row in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        )
    db.close()
    assert "xylophone" not in dump and "Okonkwo" not in dump and "sealed:v1:" in dump
    _sign_in(b, live, user, "B")
    with pytest.raises(LockedError, match="passphrase"):
        b.engine.sync_now()
    with pytest.raises(SealError, match="cannot be read with this passphrase"):
        b.engine.set_passphrase("a wrong guess")
    b.engine.set_passphrase("a long and secret passphrase")
    b.engine.sync_now()
    assert [m.content for m in b.store.messages(conv.id)] == [
        "Draft my xylophone-tax appeal",
        "Dear xylophone authority",
    ]
    assert b.store.conversation(conv.id).title == "Tax letter to Mr Okonkwo"


def test_sync_before_signing_in_says_how_to_sign_in(devices):
    a, _b = devices
    with pytest.raises(NotSignedInError, match="sync login"):
        a.engine.sync_now()


def test_an_agent_profile_added_to_the_synced_tables_by_its_brief_syncs_through_its_store(
    devices, live, user
):
    from dataelan_desktop.core.agents.store import AgentStore

    a, b = devices
    _sign_in(a, live, user, "A")
    _sign_in(b, live, user, "B")
    made = AgentStore(a.services.db, a.services.bus).add(
        "Researcher", model="openai:gpt-4o-mini", instructions="cite sources", tools=["web_fetch"]
    )
    a.engine.sync_now()
    b.engine.sync_now()
    on_b = AgentStore(b.services.db, b.services.bus).agent(made.id)
    assert (on_b.name, on_b.model, on_b.instructions, list(on_b.tools)) == (
        "Researcher", "openai:gpt-4o-mini", "cite sources", ["web_fetch"]
    )  # fmt: skip


def test_a_clock_far_ahead_is_refused_with_a_sentence_and_its_changes_go_once_it_is_right(
    devices, live, user, monkeypatch
):
    import time

    from dataelan_desktop.core.sync.client import RejectedError

    a, b = devices
    _sign_in(a, live, user, "A")
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 3600 * 10**9)  # this device's clock: an hour ahead
    conv = a.store.create_conversation(title="written with a wrong clock")
    with pytest.raises(RejectedError, match="ahead of the server's; set the clock right"):
        a.engine.sync_now()
    assert a.engine.status().pending > 0
    monkeypatch.setattr(time, "time_ns", real)  # the clock is put right
    a.engine.sync_now()
    assert a.engine.status().pending == 0
    _sign_in(b, live, user, "B")
    b.engine.sync_now()
    assert b.store.conversation(conv.id).title == "written with a wrong clock"


def test_a_server_of_another_protocol_version_says_which_side_to_update(devices, live, user, monkeypatch):
    from dataelan_desktop.core.sync import client
    from dataelan_desktop.core.sync.client import ProtocolMismatchError

    a, _b = devices
    _sign_in(a, live, user, "A")
    a.store.create_conversation(title="kept for later")
    monkeypatch.setattr(client, "PROTOCOL_VERSION", 2)  # an app newer than the server
    with pytest.raises(ProtocolMismatchError, match="update"):
        a.engine.sync_now()
    assert a.engine.status().pending > 0 and "protocol" in a.engine.status().last_error
