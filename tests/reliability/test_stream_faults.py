"""Faults inside the stream pipeline: a pause before a crash, a database that refuses a reply's last
write, text no encoder accepts, a server's unreadable Retry-After, a stall that was retried.

Each case asserts what a person sees: the text they read is on disk (or kept and restored on the
next start), the stream always ends, and the error is one true sentence.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from dataelan_desktop.core.db.tables import MessageStatus
from dataelan_desktop.core.providers.retry import RetryPolicy
from tests.reliability.tally import TALLY
from tests.support import fake_anthropic as fa
from tests.support import fake_openai as fo
from tests.support.cli import cli_env, popen_cli, run_cli
from tests.support.sse_server import STALL, Pause, Reply

MODEL = "openai:gpt-4o-mini"


def _reply_row(db: Path, prompt: str) -> tuple[str, str] | None:
    """(content, status) of the reply to ``prompt``, read as another program would."""
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(
                "SELECT a.content, a.status FROM messages a JOIN messages u ON a.parent_id = u.id "
                "WHERE u.content = ? AND a.role = 'assistant'",
                (prompt,),
            ).fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return None  # the schema is still being created


def _read_until(process, expected: str, timeout: float = 30.0) -> str:
    """What the process printed once ``expected`` appeared (or the time ran out)."""
    printed: list[str] = []
    reader = threading.Thread(target=lambda: _read_into(process, printed, expected), daemon=True)
    reader.start()
    reader.join(timeout)
    return "".join(printed)


def _read_into(process, printed: list[str], expected: str) -> None:
    while "".join(printed) != expected:
        char = process.stdout.read(1)
        if not char:
            return
        printed.append(char)


# -- 3. what was shown before a pause is on disk --------------------------------------------------


def test_text_shown_before_a_pause_is_saved_when_the_process_is_killed(data_home: Path):
    """A server sends some text, then pauses; `dataelan chat` is killed during the pause. The text the
    person read was on disk within a moment of being shown, and recovery marks the reply interrupted."""
    server = fo.fake_openai_server()
    chunks = fo.openai_chunks(["shown ", "before the pause"])
    server.default = Reply(200, [*chunks[:3], STALL])  # the role chunk, two deltas, then silence
    env = cli_env(data_home, OPENAI_API_KEY="sk-pause-test-1", OPENAI_BASE_URL=server.base_url + "/v1")
    db = data_home / "dataelan.sqlite3"
    prompt = "say a little, then think"
    shown = "shown before the pause"
    process = popen_cli("chat", "-m", MODEL, prompt, env=env)
    try:
        printed = _read_until(process, shown)  # what the person reads
        row = None
        deadline = time.monotonic() + 10  # the pause lasts until the kill (a stall is 60 s)
        while time.monotonic() < deadline:
            row = _reply_row(db, prompt)
            if row and row[0] == shown:
                break
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        server.stop()
    assert printed == shown and row == (shown, "streaming")  # on disk during the pause
    listing = run_cli("history", "list", env=env)  # any command opens the database and recovers
    conversation_id = listing.stdout.split()[0]
    assert "interrupted" in run_cli("history", "show", conversation_id, env=env).stdout
    assert _reply_row(db, prompt) == (shown, "interrupted")
    TALLY["crashes"] += 1
    TALLY["faults"] += 1


# eleven kill timings (the count) against a reply that comes in bursts of four words 40 ms apart,
# each followed by 1.5 s of silence: seconds after the first word shown; most fall in a pause, where
# a save made only when the next word arrives left the end of the burst unsaved
BURST, PAUSE = 4, 1.5
KILL_AFTER = (0.05, 0.5, 0.95, 1.3, 1.55, 2.1, 2.6, 3.0, 3.25, 4.3, 4.8)
SHOWN_SAVED_WITHIN = 0.25 + 0.5  # the flush interval, plus room for a busy 2-core machine


def _bursts(words: list[str]) -> Reply:
    chunks = fo.openai_chunks(words)
    role, deltas, ending = chunks[0], chunks[1 : 1 + len(words)], chunks[1 + len(words) :]
    paced: list = [role]
    for start in range(0, len(deltas), BURST):
        paced += [*deltas[start : start + BURST], Pause(PAUSE)]
    return Reply(200, [*paced, *ending], delay=0.04)


def _timed_reader(process, printed: list[tuple[float, str]]) -> threading.Thread:
    """Records when each character reached the person's terminal (the CLI's stdout)."""

    def read() -> None:
        while char := process.stdout.read(1):
            printed.append((time.monotonic(), char))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


@pytest.mark.timeout(600)
def test_text_shown_before_each_of_eleven_kills_is_on_disk(data_home: Path):
    """`dataelan chat` is killed at eleven points of a reply that comes in bursts. Each time, every
    character shown more than the flush interval (plus a margin) before the kill is in the database, and
    the next start marks the reply interrupted with that text. (Before the timed flush, 6 of 11 lost
    what the person had read.)"""
    server = fo.fake_openai_server()
    words = [f"word{i} " for i in range(16)]
    server.default = _bursts(words)
    env = cli_env(data_home, OPENAI_API_KEY="sk-kill-timing-1", OPENAI_BASE_URL=server.base_url + "/v1")
    db = data_home / "dataelan.sqlite3"
    kept: list[tuple[str, str, str]] = []  # (shown well before the kill, shown at all, on disk)
    try:
        for n, after in enumerate(KILL_AFTER):
            prompt = f"kill number {n}"
            process = popen_cli("chat", "-m", MODEL, prompt, env=env)
            printed: list[tuple[float, str]] = []
            reader = _timed_reader(process, printed)
            try:
                deadline = time.monotonic() + 60
                while not printed and time.monotonic() < deadline:
                    time.sleep(0.005)
                assert printed, f"nothing shown for {prompt!r}"
                time.sleep(max(0.0, printed[0][0] + after - time.monotonic()))
                os.kill(process.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                process.wait(timeout=10)
            finally:
                if process.poll() is None:
                    process.kill()
            reader.join(5)
            on_disk = (_reply_row(db, prompt) or ("", ""))[0]
            well_before = "".join(c for t, c in printed if t <= killed_at - SHOWN_SAVED_WITHIN)
            kept.append((well_before, "".join(c for _, c in printed), on_disk))
            TALLY["crashes"] += 1
    finally:
        server.stop()
    lost = [(n, w, d) for n, (w, _, d) in enumerate(kept) if not d.startswith(w)]
    assert lost == [], lost
    late = [bool(w) for (w, _, _), after in zip(kept, KILL_AFTER, strict=True) if after > SHOWN_SAVED_WITHIN]
    assert len(late) == 9 and all(late)  # the test saw text that had been shown a while, nine times
    assert all("".join(words).startswith(d) and s.startswith(d) for _, s, d in kept)  # nothing unshown
    shown = run_cli("history", "list", env=env)  # the next start marks every reply interrupted
    assert shown.returncode == 0, shown.stderr
    con = sqlite3.connect(db)
    try:
        statuses = [r[0] for r in con.execute("SELECT status FROM messages WHERE role = 'assistant'")]
    finally:
        con.close()
    assert statuses == ["interrupted"] * len(KILL_AFTER)


# -- 4. a last save the database refuses -----------------------------------------------------------


def _locked_by_another_writer(services, db_path: Path):
    """Another program holds the database's write lock from the moment the request reaches the
    server (the person's message and the reply's row are saved by then); the app waits 50 ms, not 5 s,
    for a lock, so that the test is quick."""
    held: list[sqlite3.Connection] = []

    def busy_briefly(connection, _record) -> None:
        connection.execute("PRAGMA busy_timeout=50")

    event.listen(services.db.engine, "connect", busy_briefly)
    services.db.engine.dispose()

    def lock(reply: Reply):
        def take(_request) -> Reply:
            writer = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
            writer.execute("BEGIN IMMEDIATE")
            held.append(writer)
            return reply

        return take

    def release() -> None:
        for writer in held:
            writer.rollback()
            writer.close()

    return lock, release, "database is locked"


def _disk_full(services, db_path: Path):
    """The disk fills up: the database cannot grow by more than a few pages (SQLite's page limit,
    set on the app's own connections), enough for the person's message but not a long reply."""
    with sqlite3.connect(db_path) as con:
        limit = con.execute("PRAGMA page_count").fetchone()[0] + 8

    def capped(connection, _record) -> None:
        connection.execute(f"PRAGMA max_page_count={limit}")

    event.listen(services.db.engine, "connect", capped)
    services.db.engine.dispose()
    return (lambda reply: reply), (lambda: None), "database or disk is full"


@pytest.mark.parametrize("fault", [_locked_by_another_writer, _disk_full], ids=["locked", "disk full"])
async def test_a_reply_whose_last_save_fails_is_kept_and_restored_on_the_next_start(
    services, server, monkeypatch, data_home, fault, caplog
):
    from dataelan_desktop.core.services import build_services

    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-refused-save-1")
    services.chat.save_retry_delays = (0.01, 0.01)
    conversation = await services.chat.start_conversation(model=MODEL)
    lock, release, reason = fault(services, services.db.path)
    pieces = [f"{i:04d} " + "x" * 20_000 for i in range(40)]  # 800 KB: more than the disk has left
    server.push(lock(fo.openai_stream(pieces)))
    try:
        generation = await services.chat.send(conversation.id, "write at length")
        seen = await asyncio.wait_for(_every_event(generation), 60)  # the end is always announced
        await generation.wait()
    finally:
        release()
    assert generation.status == MessageStatus.COMPLETE and generation.text == "".join(pieces)
    assert seen and len(generation.save_error.splitlines()) == 1 and reason in generation.save_error
    kept = list((data_home / "unsaved-replies").glob("*.json"))
    assert [p.name for p in kept] == [f"{generation.message_id}.json"] and str(
        kept[0]
    ) in generation.save_error
    assert oct(kept[0].stat().st_mode & 0o777) == oct(0o600)  # the reply's text: nobody else's to read
    assert oct(kept[0].parent.stat().st_mode & 0o777) == oct(0o700)
    services.close()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = build_services()  # the next start
    try:
        saved = again.store.message(generation.message_id)
        assert (saved.status, saved.content) == ("complete", "".join(pieces))
        assert [m.content for m in again.store.visible_messages(conversation.id)][0] == "write at length"
    finally:
        again.close()
    assert not kept[0].exists()
    # restored whole, not called a crash's victim first (the CLI printed both warnings on stderr, and a
    # synced device sent the reply empty, then refused its restored text as a change to a synced row)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said == [], said
    TALLY["faults"] += 1


async def _every_event(generation) -> int:
    return sum([1 async for _ in generation.events()])


# -- 4 and 5. text that no encoder accepts --------------------------------------------------------

SURROGATES = ["smile ", "\ud83d", "\ude00", " and a lone one ", "\ud83d"]  # a pair split in two, one alone
SHOWN = "smile \U0001f600 and a lone one \ufffd"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("encoding", ["default", "utf-8:replace"])
def test_split_and_lone_surrogates_are_shown_saved_and_end_the_stream(data_home: Path, provider, encoding):
    """A server sends half of an emoji's surrogate pair per delta, and a lone half at the end. The CLI
    shows the emoji and a replacement character, exits normally, and the database holds the same."""
    if provider == "openai":
        server = fo.fake_openai_server()
        server.default = fo.openai_stream(SURROGATES)
        extra = {"OPENAI_API_KEY": "sk-surrogate-1", "OPENAI_BASE_URL": server.base_url + "/v1"}
        model = MODEL
    else:
        server = fa.fake_anthropic_server()
        server.default = fa.anthropic_stream(SURROGATES)
        extra = {"ANTHROPIC_API_KEY": "sk-ant-surrogate-1", "ANTHROPIC_BASE_URL": server.base_url}
        model = "anthropic:claude-3-5-haiku-latest"
    if encoding != "default":
        extra["PYTHONIOENCODING"] = encoding
    env = cli_env(data_home, **extra)
    try:
        result = run_cli("chat", "-m", model, "an emoji, please", env=env, timeout=60)
    finally:
        server.stop()
    assert (result.returncode, result.stdout.strip()) == (0, SHOWN), result.stderr
    assert "Traceback" not in result.stderr
    assert _reply_row(data_home / "dataelan.sqlite3", "an emoji, please") == (SHOWN, "complete")
    TALLY["bad_inputs"] += 1


# -- 6. retries that tell the truth -----------------------------------------------------------------


@pytest.fixture
def retrying(services):
    services.chat.retry = RetryPolicy(attempts=2, base_delay=0.01)
    return services


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_unreadable_retry_after_is_retried_like_any_429(retrying, monkeypatch, provider):
    if provider == "openai":
        server = fo.fake_openai_server()
        server.push(fo.openai_error(429, "slow down", headers={"Retry-After": "soon-ish"}))
        server.push(fo.openai_stream(["answered after all"]))
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
        retrying.secrets.set("openai", "sk-retry-after-1")
        model = MODEL
    else:
        server = fa.fake_anthropic_server()
        headers = {"retry-after": "Thu, 99 Foo 20xx"}
        server.push(fa.anthropic_error(429, "rate_limit_error", "slow down", headers=headers))
        server.push(fa.anthropic_stream(["answered after all"]))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        retrying.secrets.set("anthropic", "sk-ant-retry-after-1")
        model = "anthropic:claude-3-5-haiku-latest"
    try:
        conversation = await retrying.chat.start_conversation(model=model)
        generation = await (await retrying.chat.send(conversation.id, "hello?")).wait()
    finally:
        server.stop()
    assert (generation.status, generation.text, generation.error) == ("complete", "answered after all", None)
    assert len(server.posts()) == 2
    TALLY["faults"] += 1


async def test_a_stall_retried_before_the_first_token_says_how_long_it_waited(retrying, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    retrying.secrets.set("openai", "sk-stall-retry-1")
    retrying.registry.stall_timeout = 1.0
    retrying.registry.invalidate("openai")
    server.push(fo.openai_stalled(["never"], after=0), fo.openai_stalled(["never"], after=0))
    conversation = await retrying.chat.start_conversation(model=MODEL)
    generation = await (await retrying.chat.send(conversation.id, "anyone there?")).wait()
    assert generation.status == MessageStatus.FAILED and len(server.posts()) == 2
    said = re.search(r"Tried (\d+) times over (\d+) s in all", generation.error or "")
    assert said, generation.error
    tries, seconds = int(said[1]), int(said[2])
    assert tries == 2 and seconds >= 2  # two silences of a second each, not "nothing for 1 s"
    TALLY["faults"] += 1
