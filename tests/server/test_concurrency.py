"""The pull cursor has no gaps under concurrent pushes: a device pulling again and again while
several devices of the same user push at once ends with exactly what a fresh device pulls."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from .conftest import add_user, signed_in


def test_a_reader_pulling_during_concurrent_pushes_misses_nothing(app):
    user = add_user(app)
    clients = [TestClient(app) for _ in range(5)]
    for c in clients:
        c.__enter__()
    try:
        writers = [signed_in(c, user) for c in clients[:4]]
        reader, reader_client = signed_in(clients[4], user)
        for device, _client in writers:
            conv = device.insert("conversations", {"created_at": "2024"})
            for i in range(120):
                device.insert("messages", {"conversation_id": conv, "role": "user", "content": f"m{i}"})
                if i % 10 == 0:
                    device.set("conversations", conv, "title", f"after {i}")
        failures: list[BaseException] = []

        def write(device, client):
            try:
                device.push(client, 7)  # many small transactions, interleaved with the others
            except BaseException as err:  # reported below: a thread's exception would vanish
                failures.append(err)

        threads = [threading.Thread(target=write, args=w) for w in writers]
        for t in threads:
            t.start()
        pulls = 0
        while any(t.is_alive() for t in threads) and pulls < 10_000:
            reader.pull(reader_client, 13)
            pulls += 1
        for t in threads:
            t.join(timeout=120)
        assert not failures, failures
        reader.pull(reader_client, 13)

        fresh, fresh_client = signed_in(clients[4], user)
        fresh.pull(fresh_client, 500)
        assert reader.replica.state() == fresh.replica.state()
        assert sum(1 for t, _ in fresh.replica.rows if t == "messages") == 4 * 120
        assert pulls > 1  # the reader really pulled while the writers were pushing
    finally:
        for c in clients:
            c.__exit__(None, None, None)
