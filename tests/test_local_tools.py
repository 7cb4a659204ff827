"""Tool calling with a local GGUF model through the real llama-cpp-python path (mechanics, not
quality: the test model has random weights). A required call is made by a grammar, so even this
model writes a valid one; text before a call streams; tool results reach the prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataelan_desktop.core.llamacpp import tools as local_tools
from dataelan_desktop.core.llamacpp.provider import LocalProvider
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    GenerationParams,
    StopReason,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.support.tiny_gguf import write_tiny_llama

WEATHER = ToolSpec(
    "weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo"]}}, "required": ["city"]},
)
#: a template that takes tools, in the shape of Qwen's and Hermes' (results as <tool_response>)
TOOL_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% for t in tools %}{{ t.function.name }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function.name }}</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def roomy_gguf(tmp_path_factory) -> Path:
    """The tiny model with room for a prompt that lists tools (byte tokens make prompts long)."""
    return write_tiny_llama(tmp_path_factory.mktemp("tools") / "tiny-4k.gguf", n_ctx=4096)


@pytest.fixture(scope="module")
def tool_template_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama(
        tmp_path_factory.mktemp("tools") / "tiny-tools.gguf", n_ctx=4096, chat_template=TOOL_TEMPLATE
    )


@pytest.fixture
async def provider():
    p = LocalProvider(db=None, idle_unload_seconds=0)
    yield p
    await p.aclose()


def ask(path: Path, *messages: ChatMessage, choice: str | None, max_tokens: int = 60) -> ChatRequest:
    return ChatRequest(
        model=str(path),
        messages=messages or (ChatMessage("user", "Weather in Oslo?"),),
        params=GenerationParams(max_tokens=max_tokens, seed=3, temperature=0.0),
        tools=(WEATHER,),
        tool_choice=choice,
    )


async def test_a_required_call_comes_out_as_a_valid_tool_call(provider, roomy_gguf):
    events = [e async for e in provider.stream(ask(roomy_gguf, choice="weather", max_tokens=200))]
    (call,) = [e for e in events if isinstance(e, ToolCall)]
    assert call.name == "weather" and call.id
    assert json.loads(call.arguments)["city"] in ("Paris", "Oslo")
    assert events[-1] == Finished(StopReason.TOOL_CALLS)
    assert not [e for e in events if isinstance(e, TextDelta)]  # the call is not shown as text


async def test_automatic_choice_still_streams_text(provider, roomy_gguf):
    events = [e async for e in provider.stream(ask(roomy_gguf, choice="auto", max_tokens=8))]
    assert [e for e in events if isinstance(e, TextDelta)]  # random weights write text, token by token
    assert isinstance(events[-1], Finished)


async def test_tool_results_reach_the_prompt(provider, tool_template_gguf):
    def transcript(result: str) -> tuple[ChatMessage, ...]:
        call = ToolCall("call_1", "weather", '{"city": "Oslo"}')
        return (
            ChatMessage("user", "Weather in Oslo?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", result, name="weather", tool_call_id="call_1"),
        )

    async def prompt_tokens(result: str) -> int:
        events = [
            e
            async for e in provider.stream(
                ask(tool_template_gguf, *transcript(result), choice="auto", max_tokens=1)
            )
        ]
        return next(e for e in events if isinstance(e, Usage)).input_tokens

    short, long = await prompt_tokens("sun"), await prompt_tokens("sun " + "rain " * 40)
    assert long - short >= 40  # each added word is in the prompt the model read


def test_calls_are_read_from_tags_or_a_bare_object():
    text, calls = local_tools.calls_in(
        'Let me look.<tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    assert text == "Let me look." and calls == [{"name": "weather", "arguments": '{"city": "Oslo"}'}]
    _, calls = local_tools.calls_in('{"name": "weather", "parameters": {"city": "Paris"}}')
    assert calls == [{"name": "weather", "arguments": '{"city": "Paris"}'}]
    _, calls = local_tools.calls_in('<tool_call>{"name": "weather", "arguments": {"city": "Par')
    assert calls[0]["name"] == "weather" and calls[0]["arguments"].endswith("Par")  # broken: the loop says so
    assert local_tools.calls_in("just words") == ("just words", [])


def test_a_template_without_tools_gets_them_in_the_system_prompt():
    messages = local_tools.template_messages(
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c", "name": "weather", "arguments": "{}"}],
            },
            {"role": "tool", "content": "denied", "tool_call_id": "c", "name": "weather", "is_error": True},
        ],
        [{"name": "weather", "description": "d", "parameters": {}}],
        native=False,
    )
    assert messages[0]["role"] == "system" and "<tools>" in messages[0]["content"]
    assert messages[2]["content"] == '<tool_call>{"name": "weather", "arguments": {}}</tool_call>'
    assert messages[3] == {"role": "user", "content": "<tool_response>\nerror: denied\n</tool_response>"}


# -- llama-cpp-python's own OpenAI-compatible server, with its function-calling chat format ----------


@pytest.fixture(scope="module")
def function_server(roomy_gguf):
    from tests.support.llama_server import LlamaServer

    server = LlamaServer(roomy_gguf, n_ctx=4096, extra=("--chat_format", "chatml-function-calling")).start()
    yield server
    server.stop()


async def test_a_compatible_server_streams_a_required_call_and_reads_the_result(function_server):
    """A real peer: the call arrives as streamed tool_calls fragments, and a transcript with its
    result (role tool) is accepted for the next turn."""
    from dataelan_desktop.core.providers.openai_compatible import OpenAICompatibleProvider

    provider = OpenAICompatibleProvider(name="llamacpp", base_url=function_server.base_url)
    try:
        ask_weather = ask(Path("tiny"), choice="weather", max_tokens=200)
        events = [e async for e in provider.stream(ask_weather)]
        (call,) = [e for e in events if isinstance(e, ToolCall)]
        assert call.name == "weather" and json.loads(call.arguments)["city"] in ("Paris", "Oslo")
        follow = (
            ChatMessage("user", "Weather in Oslo?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", "sunny", name="weather", tool_call_id=call.id),
        )
        events = [e async for e in provider.stream(ask(Path("tiny"), *follow, choice="none", max_tokens=5))]
        assert isinstance(events[-1], Finished) and [e for e in events if isinstance(e, TextDelta)]
    finally:
        await provider.aclose()


class WeatherTool:
    """One read-only tool for the loop: the local model's forced calls are answered by it."""

    name = "test"

    def __init__(self) -> None:
        self.cities: list[str] = []

    async def list_tools(self):
        from dataelan_desktop.core.agents.tools import AvailableTool

        return [AvailableTool(WEATHER, self.name, read_only=True)]

    async def call(self, tool: str, arguments: dict, *, timeout: float):
        from dataelan_desktop.core.agents.tools import ToolOutcome

        self.cities.append(arguments["city"])
        return ToolOutcome(f"{arguments['city']}: sunny, 21 degrees, a light wind from the west")


async def test_the_agent_loop_runs_a_local_models_calls_and_sends_the_results_back(
    provider, tool_template_gguf
):
    """The loop end to end on the local path: each forced call is checked, run and answered, and the
    next turn's prompt holds the result (it grows by the result's tokens)."""
    from dataelan_desktop.core.agents.loop import AgentLoop, AgentStatus, Limits, ToolBox

    tool = WeatherTool()
    request = ask(tool_template_gguf, choice="weather", max_tokens=200)
    loop = AgentLoop(provider, request, await ToolBox.gather([tool]), limits=Limits(max_steps=2))
    result = await loop.run(list(request.messages))
    assert result.status == AgentStatus.LIMIT and result.notice.startswith("Stopped after 2 tool steps")
    assert len(tool.cities) == 2 and all(not run.outcome.is_error for run in result.runs)
    assert [m.role for m in result.transcript] == ["user", "assistant", "tool", "assistant", "tool"]
    first, second = result.turns
    assert second.input_tokens - first.input_tokens >= len("sunny, 21 degrees, a light wind")
