"""The OpenAI provider through the real SDK against a loopback server speaking its SSE format."""

from __future__ import annotations

import asyncio

import pytest

from dataelan_desktop.core.providers.errors import (
    AuthenticationError,
    ContextTooLongError,
    InvalidRequestError,
    ModelNotFoundError,
    RateLimitedError,
    UnavailableError,
)
from dataelan_desktop.core.providers.openai_compatible import OpenAICompatibleProvider
from dataelan_desktop.core.providers.openai_provider import OpenAIProvider
from dataelan_desktop.core.providers.retry import RetryPolicy, stream_with_retries
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    GenerationParams,
    ReasoningDelta,
    Started,
    StopReason,
    TextDelta,
    Usage,
)
from tests.support.fake_openai import (
    openai_dropped,
    openai_error,
    openai_malformed,
    openai_stalled,
    openai_stream,
)

KEY = "sk-test-openai-000111"
REQUEST = ChatRequest(
    model="gpt-4o-mini",
    messages=(ChatMessage("user", "Say hello"),),
    system="Be brief.",
    params=GenerationParams(temperature=0.3, max_tokens=50),
)


@pytest.fixture
def provider(server):
    return OpenAIProvider(api_key=KEY, base_url=server.base_url + "/v1", stall_timeout=1.0)


async def collect(stream):
    events = []
    async for event in stream:
        events.append(event)
    return events


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_normal_stream_text_usage_and_stop_reason(server, provider):
    server.push(openai_stream(["Hel", "lo", ", world"], prompt_tokens=12, reasoning=["thinking…"]))
    events = await collect(provider.stream(REQUEST))
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert text_of(events) == "Hello, world"
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["thinking…"]
    (usage,) = [e for e in events if isinstance(e, Usage)]  # one, at the end, with the server's counts
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (12, 3, False)
    assert usage.generating_seconds is not None and usage.generating_seconds >= 0
    assert events[-1].stop_reason is StopReason.END
    sent = server.posts()[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["temperature"] == 0.3 and sent.body["max_tokens"] == 50


async def test_length_stop_reason(server, provider):
    server.push(openai_stream(["a", "b"], finish="length"))
    events = await collect(provider.stream(REQUEST))
    assert events[-1].stop_reason is StopReason.LENGTH


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (401, AuthenticationError, "refused"),
        (403, AuthenticationError, "not allowed"),
        (404, ModelNotFoundError, "does not know the model 'gpt-4o-mini'"),
        (500, UnavailableError, "server error"),
    ],
)
async def test_status_errors_are_typed_and_readable(server, provider, status, error_type, words):
    server.push(openai_error(status, "nope"))
    with pytest.raises(error_type) as err:
        await collect(provider.stream(REQUEST))
    assert words in str(err.value) and KEY not in str(err.value)


async def test_context_too_long(server, provider):
    server.push(
        openai_error(
            400, "This model's maximum context length is 128000 tokens", code="context_length_exceeded"
        )
    )
    with pytest.raises(ContextTooLongError, match="too long"):
        await collect(provider.stream(REQUEST))


async def test_429_honours_retry_after_then_succeeds(server, provider):
    server.push(openai_error(429, "Rate limit reached", headers={"Retry-After": "2"}), openai_stream(["ok"]))
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    events = await collect(stream_with_retries(provider, REQUEST, RetryPolicy(attempts=3), sleep=fake_sleep))
    assert waits == [2.0]
    assert text_of(events) == "ok" and len(server.posts()) == 2
    assert sum(isinstance(e, Started) for e in events) == 1


async def test_500_retried_with_backoff_then_gives_up(server, provider):
    server.default = openai_error(500, "boom")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(UnavailableError):
        await collect(
            stream_with_retries(provider, REQUEST, RetryPolicy(attempts=3, base_delay=0.5), sleep=fake_sleep)
        )
    assert len(server.posts()) == 3 and len(waits) == 2 and waits[1] > waits[0]


async def test_drop_mid_stream_keeps_partial_text_and_is_not_retried(server, provider):
    server.push(openai_dropped(["one ", "two ", "three ", "four"], after=2))
    events: list = []
    with pytest.raises(UnavailableError, match="dropped mid-reply"):
        async for event in stream_with_retries(provider, REQUEST, RetryPolicy(attempts=3, base_delay=0)):
            events.append(event)
    assert text_of(events) == "one two "
    assert len(server.posts()) == 1  # nothing is retried once text was shown


async def test_malformed_event_is_reported(server, provider):
    server.push(openai_malformed(["fine ", "then broken"], after=1))
    events: list = []
    with pytest.raises(InvalidRequestError, match="malformed"):
        async for event in provider.stream(REQUEST):
            events.append(event)
    assert text_of(events) == "fine "


async def test_stall_times_out_with_a_clear_message(server, provider):
    server.push(openai_stalled(["slow"], after=1))
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(UnavailableError, match="sent nothing for 1 s"):
        await collect(provider.stream(REQUEST))
    assert loop.time() - began < 10


async def test_closing_the_stream_closes_the_connection(server, provider):
    server.push(openai_stream([f"t{i} " for i in range(200)], delay=0.02))
    stream = provider.stream(REQUEST)
    received = []
    async for event in stream:
        if isinstance(event, TextDelta):
            received.append(event.text)
            if len(received) == 3:
                break
    await stream.aclose()
    request = server.posts()[0]
    assert await asyncio.to_thread(request.disconnected.wait, 5), "the server never saw the client go away"
    assert len(received) == 3


async def test_connection_refused_names_the_server():
    provider = OpenAICompatibleProvider(name="ollama", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UnavailableError, match=r"Could not reach ollama at http://127.0.0.1:9/v1"):
        await collect(provider.stream(REQUEST))


async def test_list_models(server, provider):
    models = await provider.list_models()
    assert [m.ref for m in models] == ["openai:gpt-4o", "openai:gpt-4o-mini", "openai:o3-mini"]


async def test_openai_compatible_without_a_key(server):
    provider = OpenAICompatibleProvider(name="lmstudio", base_url=server.base_url + "/v1")
    server.push(openai_stream(["hi"]))
    events = await collect(provider.stream(REQUEST))
    assert text_of(events) == "hi"
    assert (await provider.list_models())[0].provider == "lmstudio"


async def test_a_long_retry_after_is_reported_not_waited_out(server, provider):
    server.push(openai_error(429, "Rate limit reached", headers={"Retry-After": "600"}))
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(RateLimitedError, match="Try again in 600 s") as err:
        await collect(stream_with_retries(provider, REQUEST, RetryPolicy(attempts=3), sleep=fake_sleep))
    assert err.value.retry_after == 600 and waits == []
