"""The chat service as a user experiences it: nothing lost, branches, stop, failures kept."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time

import pytest

from dataelan_desktop.core.chat.service import Attachment
from dataelan_desktop.core.db.tables import MessageStatus
from dataelan_desktop.core.providers.reply import format_stats
from dataelan_desktop.core.providers.retry import RetryPolicy
from dataelan_desktop.core.providers.types import GenerationParams, Started, Usage
from tests.support import fake_openai as fo
from tests.support.fake_openai import openai_dropped, openai_error, openai_stream
from tests.support.sse_server import STALL

MODEL = "openai:gpt-4o-mini"


@pytest.fixture
def chat(services, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-service-test-1")
    services.chat.retry = RetryPolicy(attempts=2, base_delay=0.01)
    return services


def rows(services, sql: str, *args):
    con = sqlite3.connect(services.db.path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


async def test_user_message_is_committed_before_the_request(chat, server):
    seen_in_db: list = []

    def reply(request):
        # when the request arrives, the user's message is already on disk
        seen_in_db.extend(rows(chat, "SELECT role, content FROM messages WHERE role='user'"))
        return openai_stream(["Hi!"])

    server.push(reply)
    conversation = await chat.chat.start_conversation(model=MODEL, system_prompt="Be kind.")
    generation = await chat.chat.send(conversation.id, "Hello?")
    await generation.wait()
    assert seen_in_db == [("user", "Hello?")]
    assert generation.status == MessageStatus.COMPLETE and generation.text == "Hi!"
    visible = chat.store.visible_messages(conversation.id)
    assert [(m.role, m.content, m.status) for m in visible] == [
        ("user", "Hello?", "complete"),
        ("assistant", "Hi!", "complete"),
    ]
    reply_row = visible[1]
    assert reply_row.model == MODEL and reply_row.input_tokens == 7 and reply_row.output_tokens == 1
    assert reply_row.ttft_ms is not None and reply_row.duration_ms >= reply_row.ttft_ms
    assert chat.store.conversation(conversation.id).title == "Hello?"  # automatic title after the first reply
    assert server.posts()[0].body["messages"][0] == {"role": "system", "content": "Be kind."}


async def test_reply_is_flushed_while_streaming(chat, server):
    chat.chat.flush_interval = 0.05
    server.push(openai_stream([f"w{i} " for i in range(60)], delay=0.02))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "count")
    partial = None
    for _ in range(200):
        await asyncio.sleep(0.02)
        found = rows(chat, "SELECT content, status FROM messages WHERE id=?", generation.message_id)
        if found and found[0][0] and found[0][1] == "streaming":
            partial = found[0][0]
            break
    await generation.wait()
    assert partial and partial.startswith("w0 ") and len(partial) < len(generation.text)


async def test_stop_keeps_what_arrived(chat, server):
    server.push(openai_stream([f"t{i} " for i in range(500)], delay=0.01))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "long please")
    async for _event in generation.events():
        if len(generation.text) > 20:
            generation.stop()
    await generation.wait()
    saved = chat.store.message(generation.message_id)
    assert saved.status == MessageStatus.STOPPED and saved.content == generation.text
    assert 20 < len(saved.content) < len("".join(f"t{i} " for i in range(500)))


async def test_failure_mid_stream_keeps_partial_text_and_the_next_message_works(chat, server):
    server.push(openai_dropped(["half ", "a ", "reply"], after=2), openai_stream(["recovered"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    failed = await (await chat.chat.send(conversation.id, "first")).wait()
    saved = chat.store.message(failed.message_id)
    assert saved.status == MessageStatus.FAILED and saved.content == "half a "
    assert "dropped" in saved.error
    ok = await (await chat.chat.send(conversation.id, "second")).wait()
    assert ok.status == MessageStatus.COMPLETE and ok.text == "recovered"
    # the failed partial reply is part of the history the model sees next
    assert server.posts()[1].body["messages"][-2] == {"role": "assistant", "content": "half a "}


async def test_error_before_text_is_saved_as_failed(chat, server):
    server.push(openai_error(401, "Incorrect API key"))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await (await chat.chat.send(conversation.id, "hi")).wait()
    assert generation.status == MessageStatus.FAILED and "refused" in generation.error
    assert [m.role for m in chat.store.visible_messages(conversation.id)] == ["user", "assistant"]


async def test_regenerate_makes_a_sibling_and_edit_makes_a_branch(chat, server):
    server.push(openai_stream(["first"]), openai_stream(["second"]), openai_stream(["edited answer"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    one = await (await chat.chat.send(conversation.id, "question")).wait()
    two = await (await chat.chat.regenerate(one.message_id)).wait()
    assert two.text == "second"
    branching = chat.store.branching(two.message_id)
    assert (branching.index, branching.count) == (2, 2)
    # both replies answer the same user message: the request carried no earlier reply
    assert [m["content"] for m in server.posts()[1].body["messages"]] == ["question"]

    user = chat.store.visible_messages(conversation.id)[0]
    three = await (await chat.chat.edit(user.id, "question, reworded")).wait()
    visible = chat.store.visible_messages(conversation.id)
    assert [m.content for m in visible] == ["question, reworded", "edited answer"]
    assert (chat.store.branching(visible[0].id).index, chat.store.branching(visible[0].id).count) == (2, 2)
    chat.store.switch_branch(visible[0].id, -1)
    assert [m.content for m in chat.store.visible_messages(conversation.id)] == ["question", "second"]
    assert three.user_message_id == visible[0].id


async def test_attachments_reach_the_model_with_their_names(chat, server):
    server.push(openai_stream(["read it"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    await (
        await chat.chat.send(
            conversation.id, "summarise", attachments=[Attachment("notes.txt", "alpha beta")]
        )
    ).wait()
    sent = server.posts()[0].body["messages"][-1]["content"]
    assert '<file name="notes.txt">' in sent and "alpha beta" in sent and sent.endswith("summarise")
    assert chat.store.visible_messages(conversation.id)[0].attachments == [
        {"name": "notes.txt", "text": "alpha beta"}
    ]


async def test_project_instructions_and_default_model_apply(chat, server):
    server.push(openai_stream(["ok"]))
    project = chat.store.create_project("Docs", instructions="Answer in French.", default_model=MODEL)
    conversation = await chat.chat.start_conversation(project_id=project.id)
    await (await chat.chat.send(conversation.id, "hello")).wait()
    assert server.posts()[0].body["messages"][0] == {"role": "system", "content": "Answer in French."}


async def test_empty_message_and_missing_model_are_refused(chat):
    conversation = await chat.chat.start_conversation()
    with pytest.raises(ValueError, match="empty"):
        await chat.chat.send(conversation.id, "   ")
    with pytest.raises(ValueError, match="Choose a model"):
        await chat.chat.send(conversation.id, "hello")
    assert chat.store.messages(conversation.id) == []


async def test_a_large_burst_is_saved_at_once_not_only_on_the_timer(chat, server):
    """Much text in one go (a fast local model) is written when it passes the size, without waiting."""
    chat.chat.flush_interval = 30.0  # the timer alone would not save anything during this test
    chat.chat.flush_size = 1000
    big = ["y" * 600, "z" * 600]
    server.push(fo.Reply(200, [*fo.openai_chunks(big)[:3], STALL]))
    chat.registry.stall_timeout = 3.0
    chat.registry.invalidate("openai")
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "a lot, then nothing")
    saved = ""
    for _ in range(200):
        await asyncio.sleep(0.01)
        found = rows(chat, "SELECT content FROM messages WHERE id=?", generation.message_id)
        if found and len(found[0][0]) >= 1000:
            saved = found[0][0]
            break
    generation.stop()
    await generation.wait()
    assert saved.startswith("y" * 600 + "z")


async def test_usage_is_the_servers_or_a_marked_count(chat, server):
    """A server that reports usage is shown as is; one that sends none (llama.cpp's server, Ollama,
    LM Studio) gets its deltas counted, and the stats line says the count is an estimate."""
    server.push(fo.openai_stream(["one ", "two ", "three"], prompt_tokens=9))
    server.push(fo.openai_stream(["one ", "two ", "three"], usage=False))
    conversation = await chat.chat.start_conversation(model=MODEL)
    reported = await (await chat.chat.send(conversation.id, "count")).wait()
    counted = await (await chat.chat.send(conversation.id, "again")).wait()
    for generation, expected in ((reported, (9, 3, False)), (counted, (None, 3, True))):
        saved = chat.store.message(generation.message_id)
        assert (saved.input_tokens, saved.output_tokens, saved.usage_estimated) == expected
    assert "9 → 3 tokens ·" in format_stats(chat.store.message(reported.message_id))
    assert "? → 3 tokens (estimated)" in format_stats(chat.store.message(counted.message_id))


async def test_local_speed_is_the_model_process_own_count_over_its_own_time(services, tiny_gguf):
    """A window busy for a moment gets a local model's tokens in one burst (the pipe holds them); the
    speed shown must still be what the model process did, by its own count and clock, not 23,722
    tokens per second taken from when the burst arrived."""
    conversation = await services.chat.start_conversation(model=f"local:{tiny_gguf}")
    params = GenerationParams(max_tokens=24, temperature=1.5, seed=11)
    generation = await services.chat.send(conversation.id, "Count to twenty", params=params)
    usage = None
    async for event in generation.events():
        if isinstance(event, Started):
            time.sleep(0.3)  # the loop is busy: everything the model makes now arrives together
        elif isinstance(event, Usage):
            usage = event
    await generation.wait()
    await services.registry.aclose()
    saved = services.store.message(generation.message_id)
    assert usage is not None and saved.output_tokens == usage.output_tokens >= 2
    own = (usage.output_tokens - 1) / usage.generating_seconds  # the model process's count and time
    shown = format_stats(saved)
    assert f"{own:.1f} tokens/s" in shown, shown
    assert f"{own:.1f} tokens/s" in generation.stats()


async def test_a_server_sending_several_tokens_a_delta_is_not_shown_faster_than_it_made_them(chat, server):
    """Two deltas of 20 tokens each, 0.25 s apart: in that span the server made the second delta's 20
    tokens (80 tokens/s), not 39 (the old figure, 156 tokens/s, was twice what it did)."""
    usage = {"prompt_tokens": 5, "completion_tokens": 40, "total_tokens": 45}
    chunks = [
        fo._chunk({"role": "assistant", "content": ""}),
        fo._chunk({"content": "twenty tokens of text, "}),
        fo._chunk({"content": "and twenty more tokens."}),
        fo._chunk({}, finish="stop"),
        fo._chunk({}, usage=usage),
        b"data: [DONE]\n\n",
    ]
    server.push(fo.Reply(200, chunks, delay=0.25))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "forty tokens, please")
    await generation.wait()
    shown = format_stats(chat.store.message(generation.message_id))
    rate = float(re.search(r"([\d.]+) tokens/s", shown).group(1))
    assert "5 → 40 tokens ·" in shown
    assert 40 <= rate <= 20 / 0.25 * 1.02, shown  # at most what the server did between the deltas


async def test_text_that_arrives_while_a_save_is_under_way_is_saved_before_a_pause(chat, server):
    """A save still being written when more text arrives (the database thread was busy); then the
    server pauses. What arrived meanwhile is on disk shortly after, not only when the next token comes."""
    chunks = fo.openai_chunks(["one ", "two ", "three "])
    server.push(fo.Reply(200, [*chunks[:4], STALL], delay=0.4))  # a word at 0.4, 0.8 and 1.2 s
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "two words, then think")
    for _ in range(1000):
        if generation.text == "one ":
            break
        await asyncio.sleep(0.01)
    # the save of "one two " waits behind this from 0.8 s to 1.6 s; "three " arrives meanwhile
    busy = asyncio.ensure_future(chat.db.in_thread(time.sleep, 1.2))
    saved = None
    for _ in range(300):
        await asyncio.sleep(0.02)
        found = rows(chat, "SELECT content FROM messages WHERE id=?", generation.message_id)
        if found and found[0][0] == "one two three ":
            saved = found[0][0]
            break
    generation.stop()
    await asyncio.gather(busy, generation.wait())
    assert generation.text == saved == "one two three "
