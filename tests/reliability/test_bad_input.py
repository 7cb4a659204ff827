"""Bad input: huge pastes, every Unicode plane, right-to-left text, NUL bytes, binary attachments, a corrupt database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dataelan_desktop.core.chat.service import Attachment
from dataelan_desktop.core.connections.store import save_provider
from dataelan_desktop.core.db.tables import MessageStatus
from tests.reliability.tally import TALLY
from tests.support.cli import cli_env, run_cli
from tests.support.fake_openai import openai_stream


def every_plane_sample() -> str:
    """A few code points from each of the 17 Unicode planes (skipping surrogates and private noncharacters)."""
    chars = []
    for plane in range(17):
        base = plane * 0x10000
        for offset in (0x41, 0x3B1, 0x4E2D, 0xA000):
            cp = base + offset
            if not 0xD800 <= cp <= 0xDFFF:
                chars.append(chr(cp))
    return "".join(chars)


INPUTS = {
    "5 MB paste": "lorem ipsum dolor sit amet " * (5 * 1024 * 1024 // 27),
    "every Unicode plane": every_plane_sample() + " 😀🧪𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "right-to-left": "مرحبا بالعالم — שלום עולם — mixed with English ‏‎",
    "NUL bytes": "before\x00after\x00\x00end",
    "control characters": "\x1b[31mred\x1b[0m\r\n\t\x07bell",
}


@pytest.fixture
def server(server):
    server.default = openai_stream(["echo ", "done"])
    return server


@pytest.mark.parametrize("kind", list(INPUTS))
async def test_bad_input_is_sent_and_stored_intact(services, server, kind):
    save_provider(services.db, "echo", base_url=server.base_url + "/v1")
    text = INPUTS[kind]
    conversation = await services.chat.start_conversation(model="echo:m")
    generation = await (await services.chat.send(conversation.id, text)).wait()
    assert generation.status == MessageStatus.COMPLETE
    stored = services.store.visible_messages(conversation.id)[0]
    assert stored.content == text  # NUL bytes and all planes survive SQLite intact
    assert server.posts()[-1].body["messages"][-1]["content"] == text
    TALLY["bad_inputs"] += 1


async def test_a_binary_file_attached_as_text(services, server, tmp_path: Path):
    save_provider(services.db, "echo", base_url=server.base_url + "/v1")
    blob = bytes(range(256)) * 64
    conversation = await services.chat.start_conversation(model="echo:m")
    attachment = Attachment("image.png", blob.decode("utf-8", errors="replace"))
    generation = await (
        await services.chat.send(conversation.id, "what is this?", attachments=[attachment])
    ).wait()
    assert generation.status == MessageStatus.COMPLETE
    assert services.store.visible_messages(conversation.id)[0].attachments[0]["name"] == "image.png"
    TALLY["bad_inputs"] += 1


async def test_search_and_history_survive_bad_input(services, server):
    save_provider(services.db, "echo", base_url=server.base_url + "/v1")
    conversation = await services.chat.start_conversation(model="echo:m")
    for text in INPUTS.values():
        await (await services.chat.send(conversation.id, text)).wait()
    from dataelan_desktop.core.search import search_messages

    assert search_messages(services.db, "مرحبا")
    assert services.db.integrity_check() == "ok"
    TALLY["bad_inputs"] += len(INPUTS)


def test_corrupt_database_is_reported_and_never_replaced(data_home: Path, tmp_path: Path):
    env = cli_env(data_home)
    assert run_cli("providers", "list", env=env).returncode == 0  # creates a healthy database
    db = data_home / "dataelan.sqlite3"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    damaged = bytearray(db.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)  # wipe the schema page
    db.write_bytes(bytes(damaged))
    result = run_cli("history", "list", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "damaged" in result.stderr and "untouched" in result.stderr
    assert db.read_bytes() == bytes(damaged)  # never silently replaced
    TALLY["bad_inputs"] += 1
