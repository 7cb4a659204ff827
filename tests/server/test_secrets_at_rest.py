"""Tokens and passwords are nowhere in clear in the server's database or its log; with a sync
passphrase no message text or title reaches the database either, and a wrong passphrase is told
plainly."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from websockets.sync.client import connect

from dataelan_desktop.core.sync.client import AuthError, SyncClient
from dataelan_desktop.core.sync.device import MemoryDevice
from dataelan_desktop.core.sync.seal import SealError, sealer_for

from .live import LiveServer

CHEAP = {"opslimit": 1, "memlimit": 8192 * 1024}


def database_text(url: str) -> str:
    """Everything the server's database holds, as text (every table, every row; the SQLite files' bytes)."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        with sqlite3.connect(path) as con:
            con.execute("PRAGMA wal_checkpoint(FULL)")
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            rows = [repr(r) for t in tables for r in con.execute(f'SELECT * FROM "{t}"')]
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        return "\n".join(rows) + raw.decode("latin-1")
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as con:
        tables = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(r[0]) for t in tables for r in con.execute(f'SELECT t::text FROM "{t}" t'))


@pytest.fixture
def live(tmp_path, database_url):
    server = LiveServer(tmp_path / "home", database_url)
    yield server
    server.stop()


def test_tokens_passwords_and_sealed_words_never_rest_in_clear(live):
    user, password = f"s{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    live.add_user(user, password)
    live.start()
    http = httpx.Client(base_url=live.url, timeout=30)
    laptop, client = MemoryDevice(), SyncClient(http)
    client.login(user, password, laptop.id, "laptop")
    with pytest.raises(AuthError):
        SyncClient(http).login(user, wrong, str(uuid.uuid4()))

    passphrase = f"lamp {uuid.uuid4().hex[:6]} river"
    laptop.sealer = sealer_for(client, passphrase, **CHEAP)
    words = f"the quiet orchid {uuid.uuid4().hex[:8]}"
    title = f"secret title {uuid.uuid4().hex[:8]}"
    conv = laptop.insert("conversations", {"created_at": "2024-01-01"})
    laptop.set("conversations", conv, "title", title)
    laptop.insert("messages", {"conversation_id": conv, "role": "user", "content": words})
    laptop.push(client)
    with connect(live.url.replace("http", "ws") + "/v1/ws",
                 additional_headers={"Authorization": f"Bearer {client.token}"}) as ws:  # fmt: skip
        assert '"hello"' in ws.recv(timeout=10)

    # another device with the passphrase reads it all; with a wrong one it is told so plainly
    phone, phone_client = MemoryDevice(), SyncClient(http)
    phone_client.login(user, password, phone.id, "phone")
    phone.sealer = sealer_for(phone_client, passphrase)
    phone.pull(phone_client)
    assert phone.replica.row("conversations", conv)["title"] == title
    assert words in [r["content"] for r in phone.replica.live("messages").values()]
    with pytest.raises(SealError, match="cannot be read with this passphrase"):
        sealer_for(phone_client, "not my passphrase")

    token = client.token
    stored = database_text(live.database_url)
    log = "\n".join(live.log)
    assert "POST /v1/push" in log and "POST /v1/login" in log  # the log is there and shows the requests
    for secret, what in ((token, "token"), (password, "password"), (wrong, "wrong password"),
                         (passphrase, "passphrase"), (words, "message text"), (title, "title")):  # fmt: skip
        assert secret not in stored, f"the {what} is in the database in clear"
        assert secret not in log, f"the {what} is in the server's log"
    assert "sealed:v1:" in stored  # the sealed values are there, as ciphertext
    assert "laptop" in stored and conv in stored  # ids and names stay clear: the server merges by them
    http.close()
