"""An agent calling a real MCP server (the SDK's server API, over stdio) end to end: the model's
call is approved (MCP hints shown, not trusted), run by the server and saved as a tool message."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.agents.builtin import ToolSetError
from dataelan_desktop.core.agents.loop import AgentStatus, Approval, PendingCall
from dataelan_desktop.core.agents.service import agent_chat, sources_for
from dataelan_desktop.core.providers.retry import RetryPolicy
from tests.agents.mcp_support import stdio_config
from tests.support.fake_openai import openai_stream
from tests.support.fake_tools import checked_openai, openai_tool_calls

pytestmark = pytest.mark.timeout(120)
MODEL = "openai:gpt-4o-mini"


@pytest.fixture
async def app(services, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-agent-mcp-1")
    services.chat.retry = RetryPolicy(attempts=1)
    yield services
    await services.mcp.aclose()


async def test_an_agent_calls_an_mcp_tool_after_approval(app, server):
    app.mcp.store.save(stdio_config("calc"))
    sources = await sources_for(app, None, ["mcp:calc:add", "calc"])
    asked: list[PendingCall] = []

    async def allow(pending: PendingCall) -> Approval:
        asked.append(pending)
        return Approval.ALLOW_ONCE

    server.push(
        openai_tool_calls([("m1", "add", '{"a": 2, "b": 3}')]),
        checked_openai(openai_stream(["Five."])),
    )
    conversation = await app.chat.start_conversation(model=MODEL)
    run = await agent_chat(app).send(conversation.id, "2+3?", sources, model=MODEL, approve=allow)
    result = await run.wait()
    assert result.status == AgentStatus.COMPLETE and result.text == "Five."
    offered = [t["function"]["name"] for t in server.posts()[0].body["tools"]]
    assert offered == ["calculator", "add"]  # only the MCP tool named, beside the built-in
    (pending,) = asked  # the server says read-only; it is asked all the same
    assert pending.tool.source == "mcp:calc" and pending.tool.annotations["readOnlyHint"] is True
    tool = app.store.visible_messages(conversation.id)[2]
    assert tool.content == "5" and tool.tool["source"] == "mcp:calc" and tool.tool["approved_by"] == "person"


async def test_an_unknown_server_is_one_sentence(app):
    with pytest.raises(ToolSetError, match="No enabled MCP server named 'nowhere'"):
        await sources_for(app, None, ["mcp:nowhere"])


async def test_a_server_that_fails_to_start_is_said_and_the_run_goes_on(app, server):
    app.mcp.store.save(stdio_config("broken", env={"MCP_TEST_FAIL_AT_START": "1"}))
    sources = await sources_for(app, None, ["mcp:broken", "calc"])
    server.push(
        openai_tool_calls([("c1", "calculator", '{"expression": "2+3"}')]),
        checked_openai(openai_stream(["Five."])),
    )
    conversation = await app.chat.start_conversation(model=MODEL)
    run = await agent_chat(app).send(conversation.id, "2+3?", sources, model=MODEL)
    result = await run.wait()
    assert result.status == AgentStatus.COMPLETE and result.text == "Five."
    (problem,) = run.problems
    assert "broken" in problem
    assert [t["function"]["name"] for t in server.posts()[0].body["tools"]] == ["calculator"]


async def test_stop_during_an_mcp_call_answers_it_and_the_server_serves_the_next(app, server):
    """Stop reaches across to the MCP host thread: the hanging call is cancelled there and answered
    here at once, nothing more is sent to the model, and the same server answers the next call."""
    import asyncio
    import time

    app.mcp.store.save(stdio_config("slow"))
    sources = await sources_for(app, None, ["mcp:slow"])

    async def allow(pending: PendingCall) -> Approval:
        return Approval.ALLOW_ONCE

    server.push(openai_tool_calls([("h1", "hang", "{}")]))
    conversation = await app.chat.start_conversation(model=MODEL)
    run = await agent_chat(app).send(conversation.id, "Wait", sources, model=MODEL, approve=allow)
    started = asyncio.Event()
    run.on_call_start.append(lambda _call: started.set())
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.sleep(0.3)  # the call is now with the server
    stopping = time.monotonic()
    run.stop()
    result = await asyncio.wait_for(run.wait(), 10)
    assert time.monotonic() - stopping < 5  # not the call's 120 s timeout
    assert result.status == AgentStatus.STOPPED and "kept" in result.notice
    assert result.runs[0].outcome.is_error and "Stopped by the person" in result.runs[0].outcome.content
    assert len(server.posts()) == 1
    assert [m.role for m in app.store.visible_messages(conversation.id)] == ["user", "assistant", "tool"]
    outcome = await sources[0].call("add", {"a": 1, "b": 2}, timeout=30)
    assert not outcome.is_error and outcome.content == "3"
