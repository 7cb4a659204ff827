"""Cloud providers' SDKs run in the network process: what a person sees stays the same, and more.

The reply is complete and exact, a stop reaches the server, a failure keeps its kind and its
numbers, and the network process dying mid-reply is a clear failure the next message recovers
from. (A killed app leaving no network process behind is in tests/test_crash_recovery.py.)
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from dataelan_desktop.core.db.tables import MessageStatus
from dataelan_desktop.core.helper_process import coalesce
from dataelan_desktop.core.providers.errors import RateLimitedError
from dataelan_desktop.core.providers.retry import RetryPolicy
from dataelan_desktop.core.providers.types import (
    ChatMessage,
    ChatRequest,
    Finished,
    ReasoningDelta,
    Started,
    StopReason,
    TextDelta,
    Usage,
)
from tests.support.fake_openai import MODELS, openai_error, openai_stream

MODEL = "openai:gpt-4o-mini"


@pytest.fixture
def chat(services, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-network-test-1")
    services.chat.retry = RetryPolicy(attempts=1)
    return services


async def _first_text(generation, at_least: int = 1) -> None:
    async for _event in generation.events():
        if len(generation.text) >= at_least:
            return


async def test_a_fast_reply_arrives_whole_from_another_process(chat, server):
    pieces = [f"w{i} " for i in range(3000)]
    server.push(openai_stream(pieces))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await (await chat.chat.send(conversation.id, "many words")).wait()
    assert generation.status == MessageStatus.COMPLETE
    assert chat.store.message(generation.message_id).content == "".join(pieces)
    assert generation.output_tokens == 3000  # the usage chunk crossed too
    network = chat.registry.network
    assert network.alive and network.pid not in (None, os.getpid())


async def test_stop_reaches_the_server_and_the_next_message_works(chat, server):
    server.push(openai_stream([f"t{i} " for i in range(400)], delay=0.01), openai_stream(["again"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "long please")
    await asyncio.wait_for(_first_text(generation, 10), 10)
    generation.stop()
    await generation.wait()
    saved = chat.store.message(generation.message_id)
    assert saved.status == MessageStatus.STOPPED and saved.content.startswith("t0 t1 ")
    # the network process closed the connection: the server stops writing
    assert await asyncio.to_thread(server.posts()[0].disconnected.wait, 5)
    ok = await (await chat.chat.send(conversation.id, "and now?")).wait()
    assert ok.status == MessageStatus.COMPLETE and ok.text == "again"


async def test_the_network_process_dying_mid_reply_is_a_clear_failure_and_recovers(chat, server):
    server.push(openai_stream([f"t{i} " for i in range(400)], delay=0.01), openai_stream(["back"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "long please")
    await asyncio.wait_for(_first_text(generation, 10), 10)
    killed = chat.registry.network.pid
    os.kill(killed, signal.SIGKILL)
    await asyncio.wait_for(generation.wait(), 10)
    saved = chat.store.message(generation.message_id)
    assert saved.status == MessageStatus.FAILED
    assert "network process stopped unexpectedly" in saved.error
    assert saved.content.startswith("t0 t1 ")  # what had arrived is kept
    ok = await (await chat.chat.send(conversation.id, "still there?")).wait()
    assert ok.status == MessageStatus.COMPLETE and ok.text == "back"
    assert chat.registry.network.pid != killed  # started again


async def test_a_failure_keeps_its_kind_and_retry_after(chat, server):
    server.push(openai_error(429, "slow down", headers={"Retry-After": "7"}))
    provider = await asyncio.to_thread(chat.registry.get, "openai")
    request = ChatRequest(model="gpt-4o-mini", messages=(ChatMessage("user", "hi"),))
    with pytest.raises(RateLimitedError) as raised:
        [event async for event in provider.stream(request)]
    assert raised.value.retry_after == 7 and raised.value.provider == "openai"


async def test_models_are_listed_through_the_network_process(chat):
    provider = await asyncio.to_thread(chat.registry.get, "openai")
    models = await provider.list_models()
    assert [m.id for m in models] == sorted(MODELS) and {m.provider for m in models} == {"openai"}


async def test_the_key_crosses_the_pipe_never_the_command_line(chat, server):
    from tests.support.processes import command_line

    server.push(openai_stream(["keyed"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    assert (await (await chat.chat.send(conversation.id, "hi")).wait()).text == "keyed"
    assert server.posts()[0].headers["authorization"] == "Bearer sk-network-test-1"  # it reached the server
    seen = command_line(chat.registry.network.pid)
    assert "spawn_main" in seen and "sk-network-test-1" not in seen


def test_runs_of_text_are_joined_and_everything_else_kept_in_order():
    events = [
        Started("m"),
        TextDelta("a"),
        TextDelta("b"),
        ReasoningDelta("x"),
        ReasoningDelta("y"),
        TextDelta("c"),
        Usage(3, 4),
        Finished(StopReason.END),
    ]
    assert coalesce(events) == [
        Started("m"),
        TextDelta("ab"),
        ReasoningDelta("xy"),
        TextDelta("c"),
        Usage(3, 4),
        Finished(StopReason.END),
    ]


def test_a_bug_in_the_network_process_is_reported_and_its_traceback_logged(services, caplog):
    from dataelan_desktop.core.network.spec import ProviderSpec
    from dataelan_desktop.core.providers.errors import ProviderError

    broken = ProviderSpec(kind="openai_compatible", name="nowhere")  # no address: build_provider asserts
    with caplog.at_level("ERROR"), pytest.raises(ProviderError) as raised:
        services.registry.network.call("warm_up", broken)
    assert "Unexpected error in the network process: AssertionError" in str(raised.value)
    assert any("Traceback" in r.getMessage() and "build_provider" in r.getMessage() for r in caplog.records)


async def test_closing_does_not_wait_on_a_stuck_network_process(chat, monkeypatch):
    from dataelan_desktop.core.network import client as network_client

    await asyncio.to_thread(chat.registry.get, "openai")  # the process runs, the provider is built there
    monkeypatch.setattr(network_client, "CLOSE_TIMEOUT", 0.5)
    stuck = chat.registry.network.pid
    os.kill(stuck, signal.SIGSTOP)
    try:
        began = asyncio.get_running_loop().time()
        await asyncio.wait_for(chat.registry.aclose(), 10)
        assert asyncio.get_running_loop().time() - began < 3  # closed, after a bounded wait
    finally:
        os.kill(stuck, signal.SIGCONT)


def test_a_stream_left_by_a_closed_loop_is_stopped_and_the_next_one_works(services, server, monkeypatch):
    """A window's loop can end with a reply in flight: the network process must not stream on to nobody."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-network-test-2")
    server.push(openai_stream([f"t{i} " for i in range(400)], delay=0.01), openai_stream(["still here"]))
    provider = services.registry.get("openai")
    request = ChatRequest(model="gpt-4o-mini", messages=(ChatMessage("user", "hi"),))
    abandoned = asyncio.new_event_loop()
    stream = provider.stream(request)
    assert isinstance(abandoned.run_until_complete(anext(stream)), Started)
    abandoned.run_until_complete(anext(stream))  # text is flowing
    abandoned.close()  # gone, with the stream still open
    assert server.posts()[0].disconnected.wait(5)  # the network process was told to stop
    loop = asyncio.new_event_loop()
    try:
        events = loop.run_until_complete(_collect(provider.stream(request)))
    finally:
        loop.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "still here"
    del stream


async def _collect(stream) -> list:
    return [event async for event in stream]


async def test_a_reply_streaming_when_its_provider_is_reconfigured_finishes(chat, server):
    """Settings saved, or a local server detected, while a reply streams: the reply is not cut off."""
    pieces = [f"t{i} " for i in range(100)]
    server.push(openai_stream(pieces, delay=0.01), openai_stream(["new settings"]))
    conversation = await chat.chat.start_conversation(model=MODEL)
    generation = await chat.chat.send(conversation.id, "long please")
    await asyncio.wait_for(_first_text(generation, 10), 10)
    chat.registry.invalidate()  # every provider forgotten, as when local servers are detected
    await generation.wait()
    assert generation.status == MessageStatus.COMPLETE and generation.text == "".join(pieces)
    ok = await (await chat.chat.send(conversation.id, "and now?")).wait()
    assert ok.status == MessageStatus.COMPLETE and ok.text == "new settings"


def test_building_a_provider_does_not_pause_replies_already_streaming(server, monkeypatch):
    """The first use of another SDK (a second of imports) must not freeze a reply in flight."""
    import time

    from dataelan_desktop.core.helper_process import ClientPipe, Server
    from dataelan_desktop.core.network import process as network_process
    from dataelan_desktop.core.network.spec import ProviderSpec

    server.push(openai_stream([f"t{i} " for i in range(200)], delay=0.01))
    sent: list[tuple[float, str, int]] = []

    class Conn:  # the app's end of the pipe, as seen by the network process
        def send(self, message: tuple) -> None:
            sent.append((time.monotonic(), message[0], message[1]))

    real_build = network_process.build_provider

    def build(spec):
        if spec.name == "slow":  # an SDK import: a second of Python work
            until = time.monotonic() + 1.0
            while time.monotonic() < until:
                pass
        return real_build(spec)

    monkeypatch.setattr(network_process, "build_provider", build)
    loop = asyncio.new_event_loop()
    process = network_process.NetworkProcess()
    requests = Server(ClientPipe(Conn()), loop, process.handle, where=network_process.WHERE)
    streaming = ProviderSpec(kind="openai_compatible", name="fast", base_url=server.base_url + "/v1")
    slow = ProviderSpec(kind="openai_compatible", name="slow", base_url="http://127.0.0.1:9/v1")
    request = ChatRequest(model="m", messages=(ChatMessage("user", "hi"),))

    async def scenario() -> None:
        requests.arrived(("stream", 1, streaming, request))
        while not any(kind == "events" for _, kind, _ in sent):
            await asyncio.sleep(0.01)
        requests.arrived(("warm_up", 2, slow))
        while not all(any(kind == "result" and i == n for _, kind, i in sent) for n in (1, 2)):
            await asyncio.sleep(0.01)

    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 30))
        loop.run_until_complete(requests.close(process.close))
    finally:
        loop.close()
    built = next(t for t, kind, i in sent if kind == "result" and i == 2)
    began = built - 1.0
    during = [t for t, kind, i in sent if kind == "events" and i == 1 and began <= t <= built]
    gaps = [b - a for a, b in zip([began, *during], [*during, built], strict=True)]
    assert len(during) >= 5 and max(gaps) < 0.25  # the reply kept coming while the other SDK loaded


async def test_an_idle_network_process_is_stopped_and_the_next_reply_starts_it_again(
    services, server, monkeypatch
):
    """The SDKs' memory is given back while the app sits idle; never during a reply, however long."""
    from dataelan_desktop.core.connections.registry import ProviderRegistry
    from dataelan_desktop.core.network.client import NetworkClient

    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    services.secrets.set("openai", "sk-idle-test-1")
    network = NetworkClient(idle_stop_seconds=0.6)
    registry = ProviderRegistry(services.db, services.secrets, network=network)
    provider = registry.get("openai")
    request = ChatRequest(model="gpt-4o-mini", messages=(ChatMessage("user", "hi"),))
    try:
        server.push(openai_stream([f"w{i} " for i in range(12)], delay=0.1))  # 1.2 s: twice the idle limit
        events = [event async for event in provider.stream(request)]
        assert isinstance(events[-1], Finished) and events[-1].stop_reason == StopReason.END  # not cut off
        first = network.pid
        for _ in range(100):
            if not network.alive:
                break
            await asyncio.sleep(0.05)
        assert not network.alive  # stopped once idle
        server.push(openai_stream(["back ", "again"]))
        text = "".join(
            e.text for e in [e async for e in provider.stream(request)] if isinstance(e, TextDelta)
        )
        assert text == "back again" and network.alive and network.pid != first  # a new process, at once
    finally:
        network.idle_stop_seconds = None
        await registry.aclose()
        network.stop()
