"""Convergence as a property: 2-5 devices edit offline, then sync through the real server app in
random orders, with pushes duplicated, reordered, and dropped then retried, and pull answers
lost. After two rounds every device holds what the server holds, and no message is missing."""

from __future__ import annotations

import os
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataelan_desktop.core.sync.clock import now_ms
from dataelan_desktop.core.sync.device import MemoryDevice

from .conftest import add_user, signed_in

EXAMPLES = int(os.environ.get("DATAELAN_SYNC_EXAMPLES", "15"))
ACTIONS = ["new_conversation", "message", "message", "message", "rename", "pin", "delete_conversation",
           "delete_message", "new_project", "move"]  # fmt: skip


def offline_edits(data, device: MemoryDevice, created_messages: set[str], count: int) -> None:
    """Random edits on what this device knows: branches, renames, pins, moves, tombstones."""
    replica = device.replica
    # candidates in the replica's own order (arrival), never sorted by their random UUIDs: hypothesis
    # needs the same draws to build the same scenario when it replays or shrinks an example
    for _ in range(count):
        action = data.draw(st.sampled_from(ACTIONS))
        conversations = [r for t, r in replica.rows if t == "conversations"]
        messages = [r for t, r in replica.rows if t == "messages"]
        projects = [r for t, r in replica.rows if t == "projects"]
        if action == "new_conversation" or not conversations:
            conv = device.insert("conversations", {"created_at": "2024-05-01T10:00:00+00:00"})
            device.set("conversations", conv, "title", data.draw(st.text(max_size=12)))
        elif action == "message":
            conv = data.draw(st.sampled_from(conversations))
            siblings = [m for m in messages if replica.rows[("messages", m)].get("conversation_id") == conv]
            parent = data.draw(st.sampled_from([None, *siblings]))  # a new branch wherever it starts
            text = data.draw(st.text(min_size=1, max_size=30))
            created_messages.add(
                device.insert(
                    "messages",
                    {"conversation_id": conv, "parent_id": parent, "role": "user", "content": text},
                )
            )
        elif action == "rename":
            device.set(
                "conversations",
                data.draw(st.sampled_from(conversations)),
                "title",
                data.draw(st.text(max_size=12)),
            )
        elif action == "pin":
            device.set(
                "conversations", data.draw(st.sampled_from(conversations)), "pinned", data.draw(st.booleans())
            )
        elif action == "delete_conversation":
            device.delete("conversations", data.draw(st.sampled_from(conversations)))
        elif action == "delete_message" and messages:
            device.delete("messages", data.draw(st.sampled_from(messages)))
        elif action == "new_project":
            project = device.insert("projects", {"created_at": "2024-05-01T10:00:00+00:00"})
            device.set("projects", project, "name", data.draw(st.text(max_size=12)))
        elif action == "move" and projects:
            device.set("conversations", data.draw(st.sampled_from(conversations)), "project_id",
                       data.draw(st.sampled_from(projects)))  # fmt: skip


def faulty_push(data, device: MemoryDevice, client) -> None:
    """Push in batches sent out of order; some twice, some lost on the way there or back, then retried."""
    batches = device.batches(data.draw(st.integers(1, 4)))
    order = data.draw(st.permutations(range(len(batches))))
    retry = []
    for index in order:
        batch = batches[index]
        fault = data.draw(st.sampled_from(["ok", "duplicate", "lost_request", "lost_response"]))
        if fault == "duplicate":
            client.push(batch)
            device.push_batch(client, batch)
        elif fault == "lost_response":
            client.push(batch)  # stored by the server, but the device never hears so
            retry.append(batch)
        elif fault == "lost_request":
            retry.append(batch)
        else:
            device.push_batch(client, batch)
    for batch in data.draw(st.permutations(retry)):
        device.push_batch(client, batch)
    assert device.outbox == []


def faulty_pull(data, device: MemoryDevice, client) -> None:
    limit = data.draw(st.integers(1, 6))
    if data.draw(st.booleans()):
        client.pull(device.cursor, limit)  # an answer lost on the way: the cursor stays, nothing is skipped
    device.pull(client, limit)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_devices_converge_through_the_server(app, http, data):
    user = add_user(app)
    count = data.draw(st.integers(2, 5), label="devices")
    # frozen, skewed wall clocks: conflicts are settled by counters and device ids as well as time
    base = now_ms() - 60_000
    walls = [base + data.draw(st.integers(0, 5000)) for _ in range(count)]
    devices = [signed_in(http, user, wall=(lambda w=w: w)) for w in walls]
    created: set[str] = set()

    # a shared start: one device's conversations, synced to everyone
    first, first_client = devices[0]
    offline_edits(data, first, created, 3)
    for device, client in devices:
        device.sync(client)

    for device, _client in devices:
        offline_edits(data, device, created, data.draw(st.integers(0, 8)))

    for _round in range(2):
        for index in data.draw(st.permutations(range(count))):
            device, client = devices[index]
            faulty_push(data, device, client)
            faulty_pull(data, device, client)

    server_view, server_client = signed_in(http, user)  # a new device: what the server holds
    server_view.pull(server_client, 3)
    expected = server_view.replica.state()
    for device, _client in devices:
        assert device.replica.state() == expected
    held = {r for t, r in server_view.replica.rows if t == "messages"}
    assert created <= held, f"messages missing on the server: {created - held}"
    assert len(held) == len(created)


def test_a_device_that_lost_its_counter_learns_where_to_resume(app, http):
    """Op ids are per device; signing in again says the highest one the server holds."""
    user = add_user(app)
    device, client = signed_in(http, user)
    device.insert("conversations", {"created_at": "2024"})
    device.insert("conversations", {"created_at": "2024"})
    device.push(client)
    again = client.login(user, "correct horse battery", device.id, "reinstalled")
    assert again.last_op_id == 2
    assert uuid.UUID(again.device_id) == uuid.UUID(device.id)
