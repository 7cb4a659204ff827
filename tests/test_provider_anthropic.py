"""The Anthropic provider through the real SDK against a loopback server speaking its SSE format."""

from __future__ import annotations

import pytest

from dataelan_desktop.core.providers.anthropic_provider import AnthropicProvider
from dataelan_desktop.core.providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    ModelNotFoundError,
    RateLimitedError,
    UnavailableError,
)
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
from tests.support.fake_anthropic import (
    anthropic_dropped,
    anthropic_error,
    anthropic_error_event,
    anthropic_malformed,
    anthropic_stalled,
    anthropic_stream,
    fake_anthropic_server,
)

KEY = "sk-ant-test-999888"
REQUEST = ChatRequest(
    model="claude-3-5-haiku-latest",
    messages=(ChatMessage("user", "Say hello"),),
    system="Be brief.",
    params=GenerationParams(temperature=0.2),  # not sent: the Messages API has no temperature now
)


@pytest.fixture
def server():
    s = fake_anthropic_server()
    yield s
    s.stop()


@pytest.fixture
def provider(server):
    return AnthropicProvider(api_key=KEY, base_url=server.base_url, stall_timeout=1.0)


async def collect(stream):
    return [event async for event in stream]


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def no_sleep(_seconds: float) -> None:
    return None


async def test_normal_stream(server, provider):
    server.push(anthropic_stream(["Hel", "lo", "!"], input_tokens=15, thinking=["let me think"]))
    events = await collect(provider.stream(REQUEST))
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert text_of(events) == "Hello!"
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["let me think"]
    (usage,) = [e for e in events if isinstance(e, Usage)]  # one, at the end, with the server's counts
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (15, 3, False)
    assert usage.generating_seconds is not None and usage.generating_seconds >= 0
    assert events[-1].stop_reason is StopReason.END
    sent = server.posts()[0]
    # the SDK sends the key as x-api-key or, in recent releases, as a bearer token
    assert KEY in (
        sent.headers.get("x-api-key"),
        sent.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert sent.body["system"] == "Be brief." and sent.body["max_tokens"] == 4096
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert "temperature" not in sent.body


async def test_max_tokens_stop_reason(server, provider):
    server.push(anthropic_stream(["a"], stop_reason="max_tokens"))
    assert (await collect(provider.stream(REQUEST)))[-1].stop_reason is StopReason.LENGTH


@pytest.mark.parametrize(
    ("status", "kind", "error_type", "words"),
    [
        (401, "authentication_error", AuthenticationError, "refused"),
        (403, "permission_error", AuthenticationError, "not allowed"),
        (404, "not_found_error", ModelNotFoundError, "does not know the model"),
        (500, "api_error", UnavailableError, "server error"),
        (529, "overloaded_error", RateLimitedError, "overloaded"),
    ],
)
async def test_status_errors(server, provider, status, kind, error_type, words):
    server.push(anthropic_error(status, kind, "nope"))
    with pytest.raises(error_type) as err:
        await collect(provider.stream(REQUEST))
    assert words in str(err.value) and KEY not in str(err.value)


async def test_429_retry_after_then_success(server, provider):
    server.push(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "3"}),
        anthropic_stream(["ok"]),
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    events = await collect(stream_with_retries(provider, REQUEST, RetryPolicy(), sleep=sleep))
    assert waits == [3.0] and text_of(events) == "ok"


async def test_overloaded_mid_stream_is_not_retried_and_keeps_text(server, provider):
    server.push(anthropic_error_event(["part ", "two ", "three"], after=2))
    events: list = []
    with pytest.raises(RateLimitedError, match="overloaded"):
        async for event in stream_with_retries(provider, REQUEST, RetryPolicy(), sleep=no_sleep):
            events.append(event)
    assert text_of(events) == "part two " and len(server.posts()) == 1


async def test_dropped_connection(server, provider):
    server.push(anthropic_dropped(["a ", "b ", "c"], after=1))
    events: list = []
    with pytest.raises(UnavailableError, match="dropped mid-reply"):
        async for event in provider.stream(REQUEST):
            events.append(event)
    assert text_of(events) == "a "


async def test_malformed_event(server, provider):
    server.push(anthropic_malformed(["a ", "b"], after=1))
    with pytest.raises(InvalidRequestError, match="malformed"):
        await collect(provider.stream(REQUEST))


async def test_stall(server, provider):
    server.push(anthropic_stalled(["a ", "b"], after=1))
    with pytest.raises(UnavailableError, match="sent nothing for 1 s"):
        await collect(provider.stream(REQUEST))


async def test_connection_refused():
    provider = AnthropicProvider(api_key=KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(UnavailableError, match="Could not reach anthropic"):
        await collect(provider.stream(REQUEST))


async def test_list_models(provider):
    models = await provider.list_models()
    assert [m.ref for m in models] == ["anthropic:claude-3-5-haiku-latest", "anthropic:claude-sonnet-4-5"]
