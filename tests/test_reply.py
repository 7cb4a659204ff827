"""The one fold of a stream and the one stats line, as every surface (chat, tester, CLI) shows them."""

from __future__ import annotations

import asyncio

from dataelan_desktop.core.providers.errors import UnavailableError
from dataelan_desktop.core.providers.reply import Reply, fold, format_stats
from dataelan_desktop.core.providers.types import (
    Finished,
    ReasoningDelta,
    Started,
    StopReason,
    TextDelta,
    ToolCall,
    Usage,
)


async def _stream(*events, fail: Exception | None = None):
    for event in events:
        yield event
    if fail is not None:
        raise fail


async def _fold(*events, fail: Exception | None = None) -> tuple[Reply, list]:
    reply, shown = Reply("openai:gpt-4o-mini"), []
    await fold(reply, _stream(*events, fail=fail), shown.append)
    return reply, shown


async def test_a_stream_becomes_text_reasoning_tool_calls_usage_and_a_stop_reason():
    call = ToolCall("call_1", "lookup", '{"q": "tides"}')
    reply, shown = await _fold(
        Started("gpt-4o-mini"),
        ReasoningDelta("thinking "),
        ReasoningDelta("hard"),
        TextDelta("Hel"),
        TextDelta("lo"),
        call,
        Usage(12, 40, generating_seconds=0.5),
        Finished(StopReason.END),
    )
    assert (reply.text, reply.reasoning, reply.tool_calls) == ("Hello", "thinking hard", [call])
    assert (reply.status, reply.stop_reason, reply.error) == ("complete", "end", None)
    assert (reply.input_tokens, reply.output_tokens, reply.generation_ms) == (12, 40, 500.0)
    assert reply.tokens_per_second == 78.0  # 39 tokens after the first, in half a second
    assert reply.ttft_ms is not None and reply.duration_ms >= reply.ttft_ms
    assert [type(e).__name__ for e in shown][0] == "Started" and len(shown) == 8


async def test_split_and_lone_surrogates_become_printable_text_in_the_fold():
    reply, shown = await _fold(
        TextDelta("a \ud83d"),  # the first half of 😀 ...
        TextDelta("\ude00 b"),  # ... and its second half in the next delta
        TextDelta("c \ud83d\ude01 d"),  # a whole pair in one delta
        TextDelta(" lone \udc00 "),  # a low half alone
        TextDelta("\ud83d"),  # a high half at the very end
        Finished(StopReason.END),
    )
    expected = "a \U0001f600 bc \U0001f601 d lone \ufffd \ufffd"
    assert reply.text == expected
    assert "".join(e.text for e in shown if isinstance(e, TextDelta)) == expected
    reply.text.encode("utf-8")  # what the terminal and SQLite need


async def test_a_failure_or_a_stop_leaves_the_reply_final_with_its_text():
    failed, _ = await _fold(TextDelta("half "), fail=UnavailableError("The connection dropped."))
    assert (failed.status, failed.error, failed.text) == ("failed", "The connection dropped.", "half ")

    async def endless():
        yield TextDelta("so far ")
        await asyncio.sleep(3600)

    stopped = Reply("local:m.gguf")
    task = asyncio.ensure_future(fold(stopped, endless()))
    while not stopped.text:
        await asyncio.sleep(0.001)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert (stopped.status, stopped.stop_reason, stopped.text) == ("stopped", "cancelled", "so far ")


def test_the_stats_line_is_the_same_for_a_live_and_a_saved_reply():
    live = Reply(
        "openai:gpt-4o-mini",
        "text",
        "complete",
        ttft_ms=412.0,
        duration_ms=2380.0,
        generation_ms=1968.0,
        input_tokens=31,
        output_tokens=119,
        stop_reason="end",
    )
    line = live.stats()
    assert (
        line
        == "complete · first token 412 ms · 60.0 tokens/s · 2.38 s · 31 → 119 tokens · $0.00008 · stop: end"
    )
    assert Reply.from_record(live.record()).stats() == line


def test_a_counted_usage_is_marked_and_a_streaming_reply_shows_no_total():
    counted = Reply("llamacpp:tiny", status="streaming", ttft_ms=80.0, output_tokens=10, usage_estimated=True)
    assert format_stats(counted) == "streaming · first token 80 ms · ? → 10 tokens (estimated)"
