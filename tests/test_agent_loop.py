"""The agent loop against the real SDKs and loopback servers speaking both wire formats: answers,
limits, stops, and every kind of bad call answered with an error the model reads."""

from __future__ import annotations

import asyncio
import json

import pytest

from dataelan_desktop.core.agents.loop import (
    AgentLoop,
    AgentStatus,
    Approval,
    Limits,
    PendingCall,
    ToolBox,
)
from dataelan_desktop.core.providers.anthropic_provider import AnthropicProvider
from dataelan_desktop.core.providers.openai_provider import OpenAIProvider
from dataelan_desktop.core.providers.types import ChatMessage, ChatRequest
from tests.support.fake_anthropic import anthropic_stream, fake_anthropic_server
from tests.support.fake_openai import openai_stream
from tests.support.fake_tools import (
    anthropic_tool_calls,
    checked_anthropic,
    checked_openai,
    openai_tool_calls,
)
from tests.support.tool_sources import TestTools

QUESTION = (ChatMessage("user", "Add 2 and 3"),)


@pytest.fixture
def openai(server):
    return OpenAIProvider(api_key="sk-test", base_url=server.base_url + "/v1", stall_timeout=5.0)


@pytest.fixture
def tools():
    return TestTools()


async def agent(provider, tools, model="gpt-4o-mini", **kw) -> AgentLoop:
    return AgentLoop(provider, ChatRequest(model=model, messages=()), await ToolBox.gather([tools]), **kw)


def results(server, n: int) -> list[dict]:
    """The tool messages of the n-th request the server received."""
    return [m for m in server.posts()[n].body["messages"] if m["role"] == "tool"]


async def test_a_call_is_run_and_its_result_sent_back(server, openai, tools):
    server.push(openai_tool_calls([("call_1", "add", '{"a": 2, "b": 3}')], split=2))
    server.push(checked_openai(openai_stream(["It is ", "5."])))
    result = await (await agent(openai, tools)).run(QUESTION)
    assert result.status == AgentStatus.COMPLETE and result.notice is None
    assert result.text == "It is 5."
    assert tools.calls == [("add", {"a": 2, "b": 3})]
    assert results(server, 1) == [{"role": "tool", "tool_call_id": "call_1", "content": "5"}]
    (run,) = result.runs
    assert run.approved_by == "policy" and run.source == "test" and run.duration_ms >= 0
    assert [m.role for m in result.transcript] == ["user", "assistant", "tool", "assistant"]
    assert server.posts()[0].body["tool_choice"] == "auto"


async def test_a_model_that_loops_forever_stops_at_the_step_limit(server, openai, tools):
    server.default = openai_tool_calls([("call_x", "add", '{"a": 1, "b": 1}')])
    result = await (await agent(openai, tools, limits=Limits(max_steps=4))).run(QUESTION)
    assert result.status == AgentStatus.LIMIT
    assert "Stopped after 4 tool steps" in result.notice and "kept" in result.notice
    assert len(tools.calls) == 4 and len(server.posts()) == 4
    assert result.transcript[-1].role == "tool"  # everything so far is kept, each call answered


async def test_bad_calls_become_error_results_the_model_reads(server, openai, tools):
    calls = [
        ("c1", "nosuch", "{}"),
        ("c2", "add", '{"a": 2, "b": '),
        ("c3", "add", '{"a": "two", "b": 3}'),
        ("c4", "boom", "{}"),
        ("c5", "add", "[1, 2]"),
    ]
    server.push(openai_tool_calls(calls, split=3), checked_openai(openai_stream(["Sorry."])))
    result = await (await agent(openai, tools)).run(QUESTION)
    assert result.status == AgentStatus.COMPLETE
    said = {m["tool_call_id"]: m["content"] for m in results(server, 1)}
    assert said["c1"].startswith("Error: There is no tool named 'nosuch'. Available tools: add, big, boom")
    assert "not valid JSON" in said["c2"]
    assert "a: 'two' is not of type 'number'" in said["c3"]
    assert said["c4"] == "Error: The tool 'boom' failed: RuntimeError: the disk is on fire"
    assert "must be a JSON object" in said["c5"]
    assert tools.calls == [("boom", {})]  # nothing else ran
    assert all(run.outcome.is_error for run in result.runs)


async def test_a_denied_call_is_answered_and_the_next_request_is_valid(server, openai, tools):
    asked: list[PendingCall] = []

    async def deny(pending: PendingCall) -> Approval:
        asked.append(pending)
        return Approval.DENY

    server.push(
        openai_tool_calls([("call_n", "note", '{"text": "hi"}')]), checked_openai(openai_stream(["OK."]))
    )
    result = await (await agent(openai, tools, approve=deny)).run(QUESTION)
    assert result.status == AgentStatus.COMPLETE and result.text == "OK."
    assert asked[0].tool.spec.name == "note" and json.loads(asked[0].pretty_arguments) == {"text": "hi"}
    assert results(server, 1)[0]["content"] == "Error: The person denied this call."
    assert result.runs[0].approved_by == "denied" and tools.calls == []


async def test_always_allow_asks_once_per_tool(server, openai, tools):
    asked = []

    async def always(pending: PendingCall) -> Approval:
        asked.append(pending.call.id)
        return Approval.ALWAYS

    server.push(
        openai_tool_calls([("n1", "note", "{}"), ("n2", "note", "{}")]),
        openai_tool_calls([("n3", "note", "{}")]),
        checked_openai(openai_stream(["done"])),
    )
    loop = await agent(openai, tools, approve=always)
    result = await loop.run(QUESTION)
    assert asked == ["n1"] and len(tools.calls) == 3
    assert [r.approved_by for r in result.runs] == ["person, always", "policy", "policy"]


async def test_no_one_to_ask_means_denied(server, openai, tools):
    server.push(openai_tool_calls([("n1", "note", "{}")]), checked_openai(openai_stream(["ok"])))
    result = await (await agent(openai, tools)).run(QUESTION)
    assert result.runs[0].approved_by == "denied" and tools.calls == []


async def test_a_tool_that_hangs_is_an_error_after_its_timeout(server, openai, tools):
    server.push(openai_tool_calls([("s1", "slow", "{}")]), checked_openai(openai_stream(["ok"])))
    result = await (await agent(openai, tools, limits=Limits(tool_timeout=0.2))).run(QUESTION)
    assert results(server, 1)[0]["content"] == "Error: The tool 'slow' did not answer within 0.2 s."
    assert tools.slow_cancelled and result.status == AgentStatus.COMPLETE


async def test_an_enormous_result_is_cut_with_a_note(server, openai, tools):
    server.push(openai_tool_calls([("b1", "big", "{}")]), checked_openai(openai_stream(["ok"])))
    await (await agent(openai, tools, limits=Limits(max_result_chars=1000))).run(QUESTION)
    sent = results(server, 1)[0]["content"]
    assert sent.startswith("x" * 1000) and len(sent) < 1200
    assert "Truncated: the result had 200,000 characters; only the first 1,000 are shown." in sent


async def test_stop_during_a_tool_call_answers_it_and_keeps_everything(server, openai, tools):
    server.push(openai_tool_calls([("s1", "slow", "{}"), ("a1", "add", '{"a": 1, "b": 2}')]))
    loop = await agent(openai, tools)
    running = asyncio.ensure_future(loop.run(QUESTION))
    await asyncio.wait_for(tools.slow_started.wait(), 10)
    loop.stop()
    result = await asyncio.wait_for(running, 5)
    assert result.status == AgentStatus.STOPPED and "kept" in result.notice
    assert tools.slow_cancelled and [name for name, _ in tools.calls] == ["slow"]
    said = [(m.tool_call_id, m.content) for m in result.transcript if m.role == "tool"]
    assert said == [
        ("s1", "Stopped by the person while running."),
        ("a1", "Not run: the person stopped the agent."),
    ]
    assert len(server.posts()) == 1


async def test_stop_during_a_model_turn_keeps_its_text(server, openai, tools):
    server.push(openai_stream([f"w{i} " for i in range(300)], delay=0.01))

    class Watch:
        turns = []

        def __getattr__(self, _):
            return lambda *a: None

        def turn_started(self, reply):
            self.turns.append(reply)

    watch = Watch()
    loop = await agent(openai, tools, observer=watch)
    running = asyncio.ensure_future(loop.run(QUESTION))
    while not watch.turns or watch.turns[0].length < 12:
        await asyncio.sleep(0.01)
    loop.stop()
    result = await asyncio.wait_for(running, 5)
    assert result.status == AgentStatus.STOPPED
    assert result.turns[0].text.startswith("w0 w1 ") and result.transcript[-1].content == result.turns[0].text


async def test_the_time_limit_ends_a_slow_turn(server, openai, tools):
    server.push(openai_stream([f"w{i} " for i in range(300)], delay=0.01))
    result = await (await agent(openai, tools, limits=Limits(total_seconds=0.5))).run(QUESTION)
    assert result.status == AgentStatus.LIMIT and "time limit (0.5 s)" in result.notice
    assert result.text.startswith("w0 ")


async def test_the_cost_limit_stops_before_the_next_turn(server, openai, tools):
    server.default = openai_tool_calls([("c", "add", '{"a": 1, "b": 1}')])
    loop = await agent(openai, tools, limits=Limits(max_cost=0.0000001), model_ref="openai:gpt-4o-mini")
    result = await loop.run(QUESTION)
    assert result.status == AgentStatus.LIMIT and "cost limit" in result.notice
    assert len(server.posts()) == 1 and result.cost > 0


async def test_anthropic_loop_with_several_calls_in_a_turn():
    server = fake_anthropic_server()
    try:
        provider = AnthropicProvider(api_key="k", base_url=server.base_url, stall_timeout=5.0)
        tools = TestTools()
        server.push(
            anthropic_tool_calls(
                [("t1", "add", '{"a": 1, "b": 2}'), ("t2", "add", '{"a": 10, "b": 20}')], split=2
            ),
            checked_anthropic(anthropic_stream(["3 and 30"])),
        )
        result = await (await agent(provider, tools, model="claude-3-5-haiku-latest")).run(QUESTION)
        assert result.status == AgentStatus.COMPLETE and result.text == "3 and 30"
        blocks = server.posts()[1].body["messages"][2]["content"]
        assert [(b["tool_use_id"], b["content"]) for b in blocks] == [("t1", "3"), ("t2", "30")]
        await provider.aclose()
    finally:
        server.stop()
