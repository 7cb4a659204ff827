"""The OpenAI-compatible path against a real peer: llama-cpp-python's server running a test GGUF."""

from __future__ import annotations

import re

import pytest

from dataelan_desktop.core.providers.openai_compatible import OpenAICompatibleProvider
from dataelan_desktop.core.providers.reply import Reply, fold
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    GenerationParams,
    Started,
    StopReason,
    TextDelta,
    Usage,
)
from tests.support.llama_server import LlamaServer


@pytest.fixture(scope="module")
def llama_server(tiny_gguf):
    server = LlamaServer(tiny_gguf).start()
    yield server
    server.stop()


async def test_streams_from_llama_cpp_server(llama_server):
    provider = OpenAICompatibleProvider(name="llamacpp", base_url=llama_server.base_url)
    try:
        request = ChatRequest(
            model="tiny",
            messages=(ChatMessage("user", "Hello"),),
            params=GenerationParams(max_tokens=10, seed=1),
        )
        events = [e async for e in provider.stream(request)]
    finally:
        await provider.aclose()
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert events[-1].stop_reason in (StopReason.LENGTH, StopReason.END)
    assert any(isinstance(e, TextDelta) for e in events)
    usage = [e for e in events if isinstance(e, Usage)]
    if usage:  # the server reports usage in its final chunk when asked
        assert usage[-1].output_tokens and usage[-1].output_tokens <= 10


async def test_lists_the_served_model(llama_server):
    provider = OpenAICompatibleProvider(name="llamacpp", base_url=llama_server.base_url)
    try:
        models = await provider.list_models()
    finally:
        await provider.aclose()
    assert [m.ref for m in models] == ["llamacpp:tiny"]


def test_cli_chat_through_a_named_provider(llama_server, data_home):
    from tests.support.cli import cli_env, run_cli

    env = cli_env(data_home)
    assert (
        run_cli("providers", "add", "llamacpp", "--base-url", llama_server.base_url, env=env).returncode == 0
    )
    listed = run_cli("models", "list", "llamacpp", env=env)
    assert listed.stdout.split() == ["llamacpp:tiny"]
    result = run_cli("chat", "-m", "llamacpp:tiny", "--max-tokens", "5", "--stats", "Hello", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    # the server reports no usage: the stats line counts the deltas and says so
    assert re.search(
        r"^complete · first token \d+ ms · .*\? → [1-5] tokens \(estimated\)", result.stderr, re.M
    )


async def test_a_server_that_sends_no_usage_gets_a_marked_estimate(llama_server):
    """llama.cpp's server streams no usage even when asked: the deltas are counted instead, and the
    stats line says so."""
    provider = OpenAICompatibleProvider(name="llamacpp", base_url=llama_server.base_url)
    request = ChatRequest(
        model="tiny", messages=(ChatMessage("user", "Hello"),), params=GenerationParams(max_tokens=10, seed=1)
    )
    reply = Reply("llamacpp:tiny")
    try:
        await fold(reply, provider.stream(request))
    finally:
        await provider.aclose()
    assert reply.status == "complete", reply.error
    assert reply.usage_estimated and 1 <= reply.output_tokens <= 10
    assert f"→ {reply.output_tokens} tokens (estimated)" in reply.stats()
