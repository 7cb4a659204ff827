"""Tool calling through the real OpenAI and Anthropic SDKs against loopback servers speaking their
wire formats: calls streamed in many fragments, several calls in a turn, broken JSON arguments, and
a follow-up request the fake checks as the real API does (every call answered, denials included)."""

from __future__ import annotations

import json

import pytest

from dataelan_desktop.core.providers.anthropic_provider import AnthropicProvider
from dataelan_desktop.core.providers.errors import InvalidRequestError
from dataelan_desktop.core.providers.openai_compatible import OpenAICompatibleProvider
from dataelan_desktop.core.providers.openai_provider import OpenAIProvider
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    StopReason,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from tests.support.fake_anthropic import anthropic_error, anthropic_stream, fake_anthropic_server
from tests.support.fake_openai import openai_error, openai_stream
from tests.support.fake_tools import (
    anthropic_tool_calls,
    checked_anthropic,
    checked_openai,
    openai_tool_calls,
)

CALC = ToolSpec(
    "calc",
    "Evaluate arithmetic",
    {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
)
CLOCK = ToolSpec("now", "The current date and time")
LONG_ARGS = json.dumps({"expression": "(" * 40 + "1+2" + ")" * 40})
CALLS = [("call_a", "calc", LONG_ARGS), ("call_b", "now", "{}"), ("call_c", "calc", '{"expression": "1+')]


async def collect(stream):
    return [event async for event in stream]


def request(
    *messages: ChatMessage, model: str = "gpt-4o-mini", tool_choice: str | None = None
) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, tools=(CALC, CLOCK), tool_choice=tool_choice)


QUESTION = ChatMessage("user", "What is 1+2, and what time is it?")


def follow_up(calls: list[ToolCall]) -> tuple[ChatMessage, ...]:
    """The transcript after the turn: the first answered, the second denied, the broken one an error."""
    return (
        QUESTION,
        ChatMessage("assistant", "Let me check.", tool_calls=tuple(calls)),
        ChatMessage("tool", "3", name="calc", tool_call_id=calls[0].id),
        ChatMessage(
            "tool", "The person denied this call.", name="now", tool_call_id=calls[1].id, is_error=True
        ),
        ChatMessage(
            "tool", "The arguments are not valid JSON.", name="calc", tool_call_id=calls[2].id, is_error=True
        ),
    )


# -- OpenAI chat completions -------------------------------------------------------------------


@pytest.fixture
def openai(server):
    return OpenAIProvider(api_key="sk-test", base_url=server.base_url + "/v1", stall_timeout=2.0)


async def test_openai_joins_fragments_by_index_and_answers_every_call(server, openai):
    server.push(openai_tool_calls(CALLS, text="Let me check.", split=3))
    events = await collect(openai.stream(request(QUESTION, tool_choice="auto")))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name, c.arguments) for c in calls] == CALLS  # the broken JSON is passed on as it came
    assert events[-1] == Finished(StopReason.TOOL_CALLS)
    sent = server.posts()[0].body
    assert [t["function"]["name"] for t in sent["tools"]] == ["calc", "now"]
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["expression"]
    assert sent["tool_choice"] == "auto"

    server.push(checked_openai(openai_stream(["It is 3."])))
    events = await collect(openai.stream(request(*follow_up(calls))))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 3."
    messages = server.posts()[1].body["messages"]
    assert messages[1]["tool_calls"][0] == {
        "id": "call_a", "type": "function", "function": {"name": "calc", "arguments": LONG_ARGS},
    }  # fmt: skip
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "call_b",
        "content": "Error: The person denied this call.",
    }


async def test_openai_refuses_a_transcript_with_an_unanswered_call(server, openai):
    """The fake checks like the real API: leaving a denied call out would be a 400."""
    calls = [ToolCall(*c) for c in CALLS]
    server.push(checked_openai(openai_stream(["never"])))
    with pytest.raises(InvalidRequestError, match="did not have response messages: call_c"):
        await collect(openai.stream(request(*follow_up(calls)[:-1])))


async def test_openai_named_tool_choice_is_sent_as_a_function():
    with_choice = request(QUESTION, tool_choice="calc")
    payload = OpenAIProvider(api_key="k", base_url="http://127.0.0.1:9/v1")._payload(with_choice)
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "calc"}}


async def test_a_compatible_server_that_cannot_call_tools_says_so(server):
    provider = OpenAICompatibleProvider("ollama", server.base_url + "/v1")
    server.push(openai_error(400, "registry.ollama.ai/library/gemma:2b does not support tools"))
    with pytest.raises(InvalidRequestError) as refused:
        await collect(provider.stream(request(QUESTION, model="gemma:2b")))
    message = str(refused.value)
    assert "ollama cannot call tools with the model 'gemma:2b'" in message
    assert "does not support tools" in message and "chat without tools" in message
    await provider.aclose()


async def test_a_tool_schema_openai_refuses_names_the_tool(server, openai):
    server.push(
        openai_error(
            400,
            "Invalid schema for function 'now': In context=(), 'additionalProperties' is required to be "
            "supplied and to be false.",
            code="invalid_function_parameters",
        )
    )
    with pytest.raises(InvalidRequestError) as refused:
        await collect(openai.stream(request(QUESTION)))
    message = str(refused.value)
    assert message.startswith("openai refused the tool 'now'") and "Leave that tool out" in message
    assert "additionalProperties" in message  # what the API said is kept


async def test_a_compatible_server_refusing_a_schema_by_place_names_the_tool(server):
    provider = OpenAICompatibleProvider("vllm", server.base_url + "/v1")
    server.push(openai_error(400, "Invalid 'tools[1].function.parameters': expected an object schema."))
    with pytest.raises(InvalidRequestError) as refused:
        await collect(provider.stream(request(QUESTION)))
    assert str(refused.value).startswith("vllm refused the tool 'now'")  # not "cannot call tools"
    server.push(openai_error(400, "Invalid value for 'temperature'."))  # other refusals: as they were
    with pytest.raises(InvalidRequestError) as other:
        await collect(provider.stream(request(QUESTION)))
    assert "refused the request" in str(other.value) and "tool" not in str(other.value)
    await provider.aclose()


async def test_a_compatible_server_without_ids_gets_ids_made_up(server):
    provider = OpenAICompatibleProvider("local-server", server.base_url + "/v1")
    server.push(openai_tool_calls([("", "now", "{}"), ("", "calc", '{"expression": "2"}')]))
    events = await collect(provider.stream(request(QUESTION)))
    assert [(c.id, c.name) for c in events if isinstance(c, ToolCall)] == [
        ("call_0", "now"),
        ("call_1", "calc"),
    ]
    await provider.aclose()


# -- Anthropic messages --------------------------------------------------------------------------


@pytest.fixture
def anthropic_server():
    started = fake_anthropic_server()
    yield started
    started.stop()


@pytest.fixture
def anthropic(anthropic_server):
    return AnthropicProvider(api_key="sk-ant-test", base_url=anthropic_server.base_url, stall_timeout=2.0)


async def test_anthropic_joins_input_json_deltas_and_answers_every_call(anthropic_server, anthropic):
    anthropic_server.push(anthropic_tool_calls(CALLS, text="Let me check.", split=2))
    events = await collect(
        anthropic.stream(request(QUESTION, model="claude-3-5-haiku-latest", tool_choice="required"))
    )
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert [(c.id, c.name, c.arguments) for c in calls] == CALLS
    assert events[-1] == Finished(StopReason.TOOL_CALLS)
    sent = anthropic_server.posts()[0].body
    assert sent["tools"][0]["input_schema"]["required"] == ["expression"]
    assert sent["tool_choice"] == {"type": "any"}

    anthropic_server.push(checked_anthropic(anthropic_stream(["It is 3."])))
    events = await collect(anthropic.stream(request(*follow_up(calls), model="claude-3-5-haiku-latest")))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 3."
    messages = anthropic_server.posts()[1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    uses = messages[1]["content"]
    assert uses[0] == {"type": "text", "text": "Let me check."}
    assert (
        uses[1]["input"] == json.loads(LONG_ARGS) and uses[3]["input"] == {}
    )  # broken JSON: an empty object
    results = messages[2]["content"]
    assert [r["tool_use_id"] for r in results] == ["call_a", "call_b", "call_c"]
    assert [r.get("is_error", False) for r in results] == [False, True, True]


async def test_a_tool_schema_anthropic_refuses_names_the_tool(anthropic_server, anthropic):
    anthropic_server.push(
        anthropic_error(
            400,
            "invalid_request_error",
            "tools.1.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12.",
        )
    )
    with pytest.raises(InvalidRequestError) as refused:
        await collect(anthropic.stream(request(QUESTION, model="claude-3-5-haiku-latest")))
    message = str(refused.value)
    assert message.startswith("anthropic refused the tool 'now'") and "draft 2020-12" in message


async def test_anthropic_refuses_a_transcript_with_an_unanswered_call(anthropic_server, anthropic):
    calls = [ToolCall(*c) for c in CALLS]
    anthropic_server.push(checked_anthropic(anthropic_stream(["never"])))
    with pytest.raises(InvalidRequestError, match="without `tool_result` blocks"):
        await collect(anthropic.stream(request(*follow_up(calls)[:-1], model="claude-3-5-haiku-latest")))


async def test_anthropic_user_text_after_results_joins_the_same_turn(anthropic_server, anthropic):
    calls = [ToolCall("call_a", "calc", '{"expression": "2"}')]
    transcript = (
        QUESTION,
        ChatMessage("assistant", "", tool_calls=tuple(calls)),
        ChatMessage("tool", "2", tool_call_id="call_a"),
        ChatMessage("user", "And doubled?"),
    )
    anthropic_server.push(checked_anthropic(anthropic_stream(["4"])))
    await collect(anthropic.stream(request(*transcript, model="claude-3-5-haiku-latest")))
    last = anthropic_server.posts()[0].body["messages"][-1]
    assert [b["type"] for b in last["content"]] == ["tool_result", "text"]


# -- across the network process's pipe -------------------------------------------------------------


async def test_tool_calls_and_results_cross_the_network_process(server):
    """The request (tools, an assistant turn with calls, error results) is pickled to the network
    process and the calls come back as events: what the loop sees is what the SDK parsed."""
    from dataelan_desktop.core.network.client import NetworkClient
    from dataelan_desktop.core.network.spec import ProviderSpec

    client = NetworkClient()
    spec = ProviderSpec(kind="openai", name="openai", api_key="sk-test", base_url=server.base_url + "/v1")
    try:
        server.push(openai_tool_calls(CALLS, split=5))
        events = await collect(client.stream(spec, request(QUESTION)))
        calls = [e for e in events if isinstance(e, ToolCall)]
        assert [(c.id, c.name, c.arguments) for c in calls] == CALLS
        server.push(checked_openai(openai_stream(["done"])))
        events = await collect(client.stream(spec, request(*follow_up(calls))))
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "done"
        assert server.posts()[1].body["messages"][4]["content"].startswith("Error: ")
    finally:
        await client.astop()
