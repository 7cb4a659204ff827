"""Sync: a new device's first sync of 100,000 messages, a change's way from one device to another,
and 100 devices pushing at once to PostgreSQL — all against a real `dataelan server run` on loopback.
The first sync and the change's way are measured twice: with in-memory devices (the protocol alone,
the baseline) and with the app's own client (SQLite app databases, the stores, the background sync).

Targets: first sync of 100,000 messages <= 20 s; change on A visible on B (push, WebSocket
notice, pull) median <= 150 ms; 100 concurrent devices on PostgreSQL: no errors (ops/s and p99
reported).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .harness import Figure

REPO = Path(__file__).resolve().parents[1]
MESSAGES = int(os.environ.get("DATAELAN_BENCH_SYNC_MESSAGES", "100000"))
PASSWORD = "benchmark password"


class Server:
    def __init__(self, database: str | None, home: Path, workers: int = 1):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATAELAN_HOME": str(home), "PYTHONPATH": str(REPO)}
        self.where = ["--database", database] if database else []
        self.workers = workers
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str, input: str | None = None) -> None:
        subprocess.run([sys.executable, "-m", "dataelan_desktop.cli.main", "server", *args, *self.where],
                       env=self.env, input=input, text=True, check=True, capture_output=True)  # fmt: skip

    def __enter__(self) -> Server:
        import httpx

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dataelan_desktop.cli.main", "server", "run", "--port", str(self.port),
             "--workers", str(self.workers), *self.where],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        for _ in range(600):
            try:
                if httpx.get(self.url + "/v1/version", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the sync server did not start")

    def __exit__(self, *exc) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: uvicorn's workers go with it
        self.proc.wait(timeout=30)


def _device(url: str, user: str):
    import httpx

    from dataelan_desktop.core.sync.client import SyncClient
    from dataelan_desktop.core.sync.device import MemoryDevice

    device, client = MemoryDevice(), SyncClient(httpx.Client(base_url=url, timeout=120))
    client.login(user, PASSWORD, device.id, "bench")
    return device, client


def first_sync(server: Server, label: str) -> list[Figure]:
    user = f"first{uuid.uuid4().hex[:6]}"
    server.cli("add-user", user, "--password-stdin", input=PASSWORD + "\n")
    writer, writer_client = _device(server.url, user)
    conversations = [
        writer.insert("conversations", {"created_at": "2024-01-01T00:00:00+00:00"}) for _ in range(500)
    ]
    for i in range(MESSAGES):
        conv = conversations[i % len(conversations)]
        writer.insert("messages", {"conversation_id": conv, "role": "user" if i % 2 == 0 else "assistant",
                                   "content": f"message {i}: " + "lorem ipsum dolor sit amet " * 8})  # fmt: skip
    began = time.perf_counter()
    writer.push(writer_client)
    pushed = time.perf_counter() - began

    reader, reader_client = _device(server.url, user)
    began = time.perf_counter()
    reader.pull(reader_client, 5000)
    pulled = time.perf_counter() - began
    got = sum(1 for t, _ in reader.replica.rows if t == "messages")
    assert got == MESSAGES, f"{got} of {MESSAGES} messages arrived"
    return [
        Figure(f"sync {label}: push {MESSAGES:,} messages", pushed, "s", None, "(reported)", True),
        Figure(
            f"sync {label}: first sync of {MESSAGES:,} messages", pulled, "s", None, "<= 20 s", pulled <= 20
        ),
        Figure(f"sync {label}: first sync rate", MESSAGES / pulled, "m/s", None, "(reported)", True),
        app_first_sync(server, user, label, pulled),
    ]


def change_latency(server: Server, rounds: int = 40) -> Figure:
    """A title set on A, pushed; B hears the notice on its WebSocket and pulls: until B has the title."""
    from websockets.sync.client import connect

    user = f"lat{uuid.uuid4().hex[:6]}"
    server.cli("add-user", user, "--password-stdin", input=PASSWORD + "\n")
    a, a_client = _device(server.url, user)
    b, b_client = _device(server.url, user)
    conv = a.insert("conversations", {"created_at": "2024"})
    a.push(a_client)
    b.pull(b_client)
    times = []
    with connect(server.url.replace("http", "ws") + "/v1/ws",
                 additional_headers={"Authorization": f"Bearer {b_client.token}"}) as ws:  # fmt: skip
        json.loads(ws.recv(timeout=10))
        for i in range(rounds):
            began = time.perf_counter()
            a.set("conversations", conv, "title", f"title {i}")
            a.push(a_client)
            while True:
                notice = json.loads(ws.recv(timeout=10))
                if notice["seq"] > b.cursor:
                    break
            b.pull(b_client)
            assert b.replica.row("conversations", conv)["title"] == f"title {i}"
            times.append(time.perf_counter() - began)
    median = statistics.median(times) * 1000
    return Figure("sync: change on A visible on B (median)", median, "ms", None, "<= 150 ms", median <= 150)


# -- the app's own client (core/sync/engine.py): SQLite app databases, the real stores ------------------


def _memory_keyring() -> None:
    """The sync token goes to the keyring; a benchmark box may have none, so one in memory."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()
            self.data: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.data.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.data[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.data.pop((service, username), None)

    keyring.set_keyring(MemoryKeyring())


def _app_device(folder: Path, server: Server, user: str, name: str):
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.core.sync.engine import build_engine

    services = build_services(folder / "dataelan.sqlite3")
    engine = build_engine(services)
    engine.login(server.url, user, PASSWORD, name)
    return services, engine


def app_first_sync(server: Server, user: str, label: str, memory_s: float) -> Figure:
    """The same first sync into a new app database through the app's client: pulled, merged by the
    rules, written by the owning stores (baseline: the in-memory device's pull above)."""
    _memory_keyring()
    with tempfile.TemporaryDirectory() as tmp:
        services, engine = _app_device(Path(tmp), server, user, "bench app")
        try:
            began = time.perf_counter()
            engine.sync_now()
            took = time.perf_counter() - began
            got = services.store.message_count()
        finally:
            engine.close()
            services.close()
    assert got == MESSAGES, f"{got} of {MESSAGES} messages reached the app database"
    return Figure(f"sync {label}: app client, first sync of {MESSAGES:,} messages", took, "s", memory_s,
                  "<= 20 s", took <= 20)  # fmt: skip


def app_change_latency(server: Server, memory_ms: float, rounds: int = 40) -> Figure:
    """A rename in app A (ChatStore) until app B has it in its database: A's background sync pushes,
    the server's notice wakes B's, B pulls and its ChatStore writes and publishes (baseline: the
    in-memory devices' figure above, which skips both databases and the background threads)."""
    import threading

    from dataelan_desktop.core.sync.runner import SyncRunner

    _memory_keyring()
    user = f"app{uuid.uuid4().hex[:6]}"
    server.cli("add-user", user, "--password-stdin", input=PASSWORD + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        a, a_engine = _app_device(Path(tmp) / "a", server, user, "A")
        b, b_engine = _app_device(Path(tmp) / "b", server, user, "B")
        runners = [SyncRunner(a_engine, a.bus), SyncRunner(b_engine, b.bus)]
        arrived = threading.Event()
        try:
            conv = a.store.create_conversation(title="start").id
            b.bus.subscribe(lambda changes: arrived.set() if conv in changes.conversations else None)
            for runner in runners:
                runner.start()
            assert arrived.wait(30), "the first change never reached B"
            times = []
            for i in range(rounds):
                arrived.clear()
                began = time.perf_counter()
                a.store.update_conversation(conv, title=f"title {i}")
                while b.store.conversation(conv).title != f"title {i}":
                    assert arrived.wait(10), f"round {i} never reached B"
                    arrived.clear()
                times.append(time.perf_counter() - began)
        finally:
            for runner in runners:
                runner.stop()
            a_engine.close()
            b_engine.close()
            a.close()
            b.close()
    median = statistics.median(times) * 1000
    return Figure("sync: app client, change on A visible on B (median)", median, "ms", memory_ms,
                  "<= 150 ms", median <= 150)  # fmt: skip


def _add_users(database: str, names: list[str]) -> None:
    """Users made directly in the database at a low hashing cost: signing in is not what is measured."""
    from dataelan_desktop.server import accounts
    from dataelan_desktop.server.db import Database
    from dataelan_desktop.server.settings import ServerSettings

    settings = ServerSettings(database, argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)
    db = Database(settings.database_url)
    with db.session() as session:
        for name in names:
            accounts.add_user(session, settings, name, PASSWORD)
    db.close()


def concurrent_pushes(server: Server, database: str, users: int, devices: int = 100, pushes: int = 10,
                      batch: int = 10) -> list[Figure]:  # fmt: skip
    """``devices`` devices spread over ``users`` users, each pushing ``pushes`` batches of ``batch`` operations
    at once. One user's pushes take turns (they share the user's sequence); different users' do not."""
    import httpx

    from dataelan_desktop.core.sync.device import MemoryDevice
    from dataelan_desktop.core.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

    names = [f"many{uuid.uuid4().hex[:8]}" for _ in range(users)]
    _add_users(database, names)
    prepared = []
    for index in range(devices):
        device = MemoryDevice()
        token = httpx.post(server.url + "/v1/login", timeout=60, json={
            "user": names[index % users], "password": PASSWORD, "device_id": device.id,
            "device_name": "crowd"}).json()["token"]  # fmt: skip
        conv = device.insert("conversations", {"created_at": "2024"})
        for i in range(pushes * batch - 1):
            device.insert("messages", {"conversation_id": conv, "role": "user", "content": f"hello {i}"})
        bodies = [json.dumps({"ops": [op.to_json() for op in b]}) for b in device.batches(batch)]
        prepared.append((token, bodies))
    latencies: list[float] = []
    errors: list[str] = []

    async def one(token: str, bodies: list[str], client: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION),
                   "Content-Type": "application/json"}  # fmt: skip
        for body in bodies:
            began = time.perf_counter()
            try:
                response = await client.post("/v1/push", content=body, headers=headers)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:100]}")
            except httpx.HTTPError as err:
                errors.append(type(err).__name__)
            latencies.append(time.perf_counter() - began)

    async def crowd() -> float:
        limits = httpx.Limits(max_connections=devices)
        async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
            began = time.perf_counter()
            await asyncio.gather(*(one(t, b, client) for t, b in prepared))
            return time.perf_counter() - began

    elapsed = asyncio.run(crowd())
    ops = devices * pushes * batch
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    label = f"sync pg: {devices} devices of {users} user{'s' if users > 1 else ''}"
    if errors:
        print(f"{label}: {len(errors)} errors, e.g. {errors[0]}")
    return [
        Figure(f"{label}, ops/s", ops / elapsed, "op/s", None, "(reported)", True),
        Figure(f"{label}, p99 push", p99, "ms", None, "(reported)", True),
        Figure(f"{label}, errors", len(errors), "", None, "0", not errors),
    ]


def _postgres_database() -> tuple[str, str] | None:
    try:
        import psycopg
    except ImportError:
        return None
    for user in ("postgres", "root"):
        admin = f"postgresql://{user}@127.0.0.1:5432"
        try:
            name = f"dataelan_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(f"{admin}/postgres", autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return admin, name
        except psycopg.OperationalError:
            continue
    return None


def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        with Server(None, Path(tmp) / "home") as server:  # the embedded default: SQLite in the data folder
            figures += first_sync(server, "sqlite")
            latency = change_latency(server)
            figures += [latency, app_change_latency(server, latency.value)]
        pg = _postgres_database()
        if pg is None:
            print("sync: PostgreSQL at 127.0.0.1:5432 is not reachable; its figures are skipped")
            return figures
        admin, name = pg
        try:
            with Server(f"{admin}/{name}", Path(tmp) / "home-pg", workers=2) as server:
                figures += first_sync(server, "postgresql")
                figures += concurrent_pushes(server, f"{admin}/{name}", users=100)
                figures += concurrent_pushes(
                    server, f"{admin}/{name}", users=1
                )  # the worst case: one account
        finally:
            import psycopg

            with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


if __name__ == "__main__":
    from .harness import report

    report(run())
