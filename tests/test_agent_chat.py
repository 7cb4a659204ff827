"""An agent answering in a conversation: tool calls and results saved as messages of the tree,
surviving regenerate, branches, export and import; agent profiles saved by their one store."""

from __future__ import annotations

import json

import pytest

from dataelan_desktop.core.agents.builtin import BuiltinTools
from dataelan_desktop.core.agents.history import NOT_RUN, answer_every_call
from dataelan_desktop.core.agents.loop import AgentStatus, Approval
from dataelan_desktop.core.agents.service import agent_chat, agent_store
from dataelan_desktop.core.agents.store import AgentError
from dataelan_desktop.core.providers.retry import RetryPolicy
from dataelan_desktop.core.providers.types import ChatMessage, ToolCall
from dataelan_desktop.core.transfer.export import export_conversation
from dataelan_desktop.core.transfer.importers import import_file
from tests.support.fake_openai import openai_error, openai_stream
from tests.support.fake_tools import checked_openai, openai_tool_calls

MODEL = "openai:gpt-4o-mini"


@pytest.fixture
def app(services, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-agent-test-1")
    services.chat.retry = RetryPolicy(attempts=1)
    return services


async def ask_calc(app, server, conversation_id: str, question: str = "What is 6*7?"):
    server.push(
        openai_tool_calls([("call_1", "calculator", '{"expression": "6*7"}')], split=3),
        checked_openai(openai_stream(["It is ", "42."])),
    )
    run = await agent_chat(app).send(conversation_id, question, [BuiltinTools(["calculator"])], model=MODEL)
    return run, await run.wait()


async def test_a_run_is_saved_as_messages_of_the_conversation(app, server):
    conversation = await app.chat.start_conversation(model=MODEL)
    run, result = await ask_calc(app, server, conversation.id)
    assert result.status == AgentStatus.COMPLETE and result.text == "It is 42."
    shown = app.store.visible_messages(conversation.id)
    assert [m.role for m in shown] == ["user", "assistant", "tool", "assistant"]
    call_turn, tool, answer = shown[1], shown[2], shown[3]
    assert call_turn.tool_calls == [
        {"id": "call_1", "name": "calculator", "arguments": '{"expression": "6*7"}'}
    ]
    assert call_turn.status == "complete" and call_turn.stop_reason == "tool_calls"
    assert tool.content == "42" and tool.parent_id == call_turn.id
    assert tool.tool["call_id"] == "call_1" and tool.tool["source"] == "builtin"
    assert tool.tool["approved_by"] == "policy" and tool.tool["is_error"] is False
    assert answer.content == "It is 42." and answer.parent_id == tool.id
    assert app.store.conversation(conversation.id).title == "What is 6*7?"
    assert [t.message_id for t in run.turns] == [call_turn.id, answer.id]


async def test_regenerate_sends_the_saved_calls_and_results_and_branches(app, server):
    conversation = await app.chat.start_conversation(model=MODEL)
    await ask_calc(app, server, conversation.id)
    first_answer = app.store.visible_messages(conversation.id)[-1]
    server.push(checked_openai(openai_stream(["Forty-two."])))  # 400s unless every call is answered
    run = await agent_chat(app).regenerate(first_answer.id, [BuiltinTools(["calculator"])])
    result = await run.wait()
    assert result.status == AgentStatus.COMPLETE and result.text == "Forty-two."
    sent = server.posts()[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    shown = app.store.visible_messages(conversation.id)
    assert shown[-1].content == "Forty-two." and app.store.branching(shown[-1].id).count == 2


async def test_plain_chat_after_a_run_sends_only_the_words(app, server):
    conversation = await app.chat.start_conversation(model=MODEL)
    await ask_calc(app, server, conversation.id)
    server.push(openai_stream(["Sure."]))
    await (await app.chat.send(conversation.id, "Thanks", model=MODEL)).wait()
    sent = server.posts()[-1].body
    assert "tools" not in sent and [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]


async def test_export_and_import_keep_tool_calls(app, server, tmp_path):
    conversation = await app.chat.start_conversation(model=MODEL)
    await ask_calc(app, server, conversation.id)
    exported = tmp_path / "agent.json"
    exported.write_text(export_conversation(app.store, conversation.id, "json"), encoding="utf-8")
    assert "**Tool calculator**" in export_conversation(app.store, conversation.id, "md")
    data = json.loads(exported.read_text())
    data["conversations"][0]["id"] = "copy"  # (else recognised as already imported)
    exported.write_text(json.dumps(data), encoding="utf-8")
    result = import_file(app.store, exported)
    shown = app.store.visible_messages(result.conversation_ids[0])
    assert [m.role for m in shown] == ["user", "assistant", "tool", "assistant"]
    assert shown[1].tool_calls[0]["name"] == "calculator" and shown[2].tool["call_id"] == "call_1"


async def test_a_denied_call_is_saved_as_an_error_result(app, server):
    conversation = await app.chat.start_conversation(model=MODEL)
    server.push(
        openai_tool_calls([("call_w", "write_file", '{"path": "x.txt", "content": "hi"}')]),
        checked_openai(openai_stream(["Understood."])),
    )

    async def deny(_pending):
        return Approval.DENY

    tools = BuiltinTools(["write_file"], [str(app.db.path.parent)])
    run = await agent_chat(app).send(conversation.id, "Write x.txt", [tools], model=MODEL, approve=deny)
    await run.wait()
    tool = app.store.visible_messages(conversation.id)[2]
    assert tool.content == "The person denied this call." and tool.tool["is_error"] is True
    assert tool.tool["approved_by"] == "denied"
    assert not (app.db.path.parent / "x.txt").exists()


def test_an_interrupted_run_is_answered_before_it_is_sent_again():
    calls = (ToolCall("a", "calculator", "{}"), ToolCall("b", "calculator", "{}"))
    transcript = [
        ChatMessage("user", "q"),
        ChatMessage("assistant", "", tool_calls=calls),
        ChatMessage("tool", "1", tool_call_id="a"),
        ChatMessage("user", "and?"),
    ]
    fixed = answer_every_call(transcript)
    assert [(m.role, m.tool_call_id) for m in fixed] == [
        ("user", None), ("assistant", None), ("tool", "a"), ("tool", "b"), ("user", None),
    ]  # fmt: skip
    assert fixed[3].content == NOT_RUN and fixed[3].is_error


# -- agent profiles -------------------------------------------------------------------------------


def test_agent_profiles_are_added_found_changed_and_removed(services):
    agents = agent_store(services)
    added = agents.add("Researcher", model=MODEL, instructions="Cite sources.", tools=["calc", "search"],
                       policies={"fetch_url": "ask"}, limits={"max_steps": 5})  # fmt: skip
    assert agents.agent("researcher").id == added.id  # names case-insensitively
    assert added.loop_limits.max_steps == 5 and added.loop_limits.tool_timeout == 120.0
    with pytest.raises(AgentError, match="already exists"):
        agents.add("RESEARCHER")
    with pytest.raises(AgentError, match="must be always, ask or deny"):
        agents.add("Other", policies={"calculator": "sometimes"})
    with pytest.raises(AgentError, match="max_steps must be a number above zero"):
        agents.add("Other", limits={"max_steps": 0})
    agents.allow_always(added.id, "fetch_url")
    assert agents.agent(added.id).policies == {"fetch_url": "always"}
    agents.remove("Researcher")
    with pytest.raises(AgentError, match="No agent named 'Researcher'"):
        agents.agent("Researcher")
    assert agents.agents() == []


async def test_an_agents_instructions_tools_and_always_allow_are_used(app, server):
    agents = agent_store(app)
    agent = agents.add("Writer", model=MODEL, instructions="Be terse.", tools=[f"files:{app.db.path.parent}"])
    conversation = await app.chat.start_conversation(model=MODEL)
    server.push(
        openai_tool_calls([("c1", "list_files", "{}")]),
        checked_openai(openai_stream(["Done."])),
    )
    tools = BuiltinTools(["list_files", "calculator"], [app.db.path.parent])
    run = await agent_chat(app).send(conversation.id, "What is here?", [tools], agent=agent)
    await run.wait()
    first = server.posts()[0].body
    assert first["messages"][0] == {"role": "system", "content": "Be terse."}
    assert [t["function"]["name"] for t in first["tools"]] == ["list_files"]  # calculator is not its tool
    assert "dataelan.sqlite3" in app.store.visible_messages(conversation.id)[2].content


def test_chatgpt_tool_nodes_become_tool_messages(services, tmp_path):
    def node(node_id, parent, role, content, **extra):
        message = {"id": node_id, "author": {"role": role, **extra.pop("author", {})}, "content": content,
                   "create_time": 1_700_000_000, "metadata": {}, **extra}  # fmt: skip
        return {"id": node_id, "parent": parent, "message": message, "children": []}

    mapping = {
        "u": node("u", None, "user", {"content_type": "text", "parts": ["Plot 2**10"]}),
        "call": node("call", "u", "assistant", {"content_type": "code", "language": "python", "text": "print(2**10)"},
                     recipient="python"),
        "out": node("out", "call", "tool", {"content_type": "execution_output", "text": "1024"},
                    author={"name": "python"}),
        "a": node("a", "out", "assistant", {"content_type": "text", "parts": ["It is 1024."]}),
    }  # fmt: skip
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"id": "gpt1", "title": "Powers", "mapping": mapping, "current_node": "a"}]))
    result = import_file(services.store, path)
    shown = services.store.visible_messages(result.conversation_ids[0])
    assert [m.role for m in shown] == ["user", "assistant", "tool", "assistant"]
    assert shown[1].tool_calls == [{"id": "call", "name": "python", "arguments": '{"input": "print(2**10)"}'}]
    assert (
        shown[2].content == "1024"
        and shown[2].tool["call_id"] == "call"
        and shown[2].tool["name"] == "python"
    )


SIX_TIMES = """\
name: Six times
inputs:
  a: {type: number}
steps:
  - id: sum
    kind: tool
    tool: calculator
    arguments: {expression: "{{inputs.a}} * 6"}
  - id: out
    kind: output
    value: "{{sum}}"
"""


async def test_an_agent_runs_a_saved_workflow_after_asking(app, server):
    from dataelan_desktop.core.agents.service import sources_for
    from dataelan_desktop.core.workflows import open_store

    open_store(app).save(SIX_TIMES)
    sources = await sources_for(app, None, ["workflows"])
    server.push(
        openai_tool_calls([("w1", "run_workflow", '{"name": "six times", "inputs": {"a": 7}}'),
                           ("w2", "run_workflow", '{"name": "Sixx times"}')]),
        checked_openai(openai_stream(["42."])),
    )  # fmt: skip
    asked = []

    async def allow(pending):
        asked.append(pending.call.id)
        return Approval.ALLOW_ONCE

    conversation = await app.chat.start_conversation(model=MODEL)
    run = await agent_chat(app).send(
        conversation.id, "7 times 6 by the workflow", sources, model=MODEL, approve=allow
    )
    result = await run.wait()
    assert result.status == AgentStatus.COMPLETE and asked == ["w1", "w2"]  # it asks each time
    ran, missing = result.runs
    assert ran.outcome.content == "42" and not ran.outcome.is_error
    assert missing.outcome.is_error and "Did you mean 'Six times'?" in missing.outcome.content
    assert [r.status for r in open_store(app).runs()] == ["complete"]  # recorded like any run


async def test_a_tool_schema_the_provider_refuses_is_one_sentence_and_nothing_is_lost(app, server):
    conversation = await app.chat.start_conversation(model=MODEL)
    server.push(
        openai_error(
            400,
            "Invalid schema for function 'calculator': In context=('properties', 'expression'), "
            "'type' is required.",
            code="invalid_function_parameters",
        )
    )
    run = await agent_chat(app).send(
        conversation.id, "What is 6*7?", [BuiltinTools(["calculator"])], model=MODEL
    )
    result = await run.wait()
    assert result.status == AgentStatus.FAILED
    assert result.notice.startswith("openai refused the tool 'calculator'"), result.notice
    shown = app.store.visible_messages(conversation.id)
    assert [(m.role, m.status) for m in shown] == [("user", "complete"), ("assistant", "failed")]
    assert shown[0].content == "What is 6*7?" and "refused the tool 'calculator'" in shown[1].error
