"""Local GGUF chat through the real llama-cpp-python path, in a model process."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from dataelan_desktop.core.llamacpp.provider import LocalProvider
from dataelan_desktop.core.providers.errors import ModelFileError, UnavailableError
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
from tests.support import tiny_gguf as writers
from tests.support.cli import cli_env, run_cli
from tests.support.processes import gone


def request(path: Path, text: str = "Hello", **params) -> ChatRequest:
    return ChatRequest(
        model=str(path), messages=(ChatMessage("user", text),), params=GenerationParams(**params)
    )


@pytest.fixture
async def provider():
    p = LocalProvider(db=None, idle_unload_seconds=0)
    yield p
    await p.aclose()


async def test_streams_text_usage_and_finish(provider, tiny_gguf):
    events = [e async for e in provider.stream(request(tiny_gguf, max_tokens=12, seed=7))]
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    usage = next(e for e in events if isinstance(e, Usage))
    assert 0 < usage.output_tokens <= 12
    assert events[-1].stop_reason in (StopReason.LENGTH, StopReason.END)
    if usage.output_tokens == 12:
        assert events[-1].stop_reason is StopReason.LENGTH
    assert "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_the_models_own_chat_template_formats_the_prompt(provider, tiny_gguf):
    """ChatML from the GGUF: the prompt is `<|im_start|>user\\nHello<|im_end|>\\n<|im_start|>assistant\\n`."""
    from llama_cpp import Llama

    events = [e async for e in provider.stream(request(tiny_gguf, "Hello", max_tokens=1))]
    usage = next(e for e in events if isinstance(e, Usage))
    llm = Llama(str(tiny_gguf), n_ctx=256, verbose=False)
    expected = llm.tokenize(
        b"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", add_bos=False, special=True
    )
    assert usage.input_tokens == len(expected)
    client = provider._clients[next(iter(provider._clients))]
    assert client.template_source == "model"


async def test_the_model_process_is_reused_across_requests(provider, tiny_gguf):
    [e async for e in provider.stream(request(tiny_gguf, max_tokens=2))]
    first = [h.pid for h in provider._clients.values()]
    [e async for e in provider.stream(request(tiny_gguf, max_tokens=2))]
    assert [h.pid for h in provider._clients.values()] == first and len(first) == 1


async def test_cancel_stops_within_one_token(provider, tiny_gguf):
    stream = provider.stream(request(tiny_gguf, max_tokens=400, seed=3, temperature=1.0))
    received = 0
    async for event in stream:
        if isinstance(event, TextDelta):
            received += 1
            if received == 5:
                break
    await stream.aclose()
    client = next(iter(provider._clients.values()))
    assert client.alive  # stopping a reply does not unload the model
    # the model process is idle and ready: a new request runs at once and completes
    events = [e async for e in provider.stream(request(tiny_gguf, max_tokens=3))]
    assert isinstance(events[-1], Finished)


async def test_cancelling_the_task_mid_stream(provider, tiny_gguf):
    texts: list[str] = []

    async def consume():
        async for event in provider.stream(request(tiny_gguf, max_tokens=400, seed=3, temperature=1.0)):
            if isinstance(event, TextDelta):
                texts.append(event.text)

    task = asyncio.create_task(consume())
    while not texts:  # the first text crosses at once; the rest of the 400 tokens take 100 ms or more
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(texts)
    await asyncio.sleep(0.2)
    assert len(texts) == count  # nothing more arrives after the stop


async def test_a_killed_model_process_is_a_clear_error_and_the_next_request_works(provider, tiny_gguf):
    stream = provider.stream(request(tiny_gguf, max_tokens=400, seed=3, temperature=1.0))
    with pytest.raises(UnavailableError, match="stopped unexpectedly .*SIGKILL.*load the model again"):
        async for event in stream:
            if isinstance(event, TextDelta):
                client = next(iter(provider._clients.values()))
                os.kill(client.pid, signal.SIGKILL)
    events = [e async for e in provider.stream(request(tiny_gguf, max_tokens=3))]
    assert isinstance(events[-1], Finished)


async def test_unload_ends_the_process(provider, tiny_gguf):
    [e async for e in provider.stream(request(tiny_gguf, max_tokens=1))]
    pid = next(iter(provider._clients.values())).pid
    assert await provider.unload() == 1
    # asked of the system, not of Process.is_alive(): that stays True for good when another part
    # of the test process reaped the child first (it then sees ECHILD, never an exit code)
    assert gone(pid) and provider.loaded_models() == []


async def test_idle_unload(tiny_gguf):
    provider = LocalProvider(db=None, idle_unload_seconds=0.3)
    try:
        [e async for e in provider.stream(request(tiny_gguf, max_tokens=1))]
        assert len(provider.loaded_models()) == 1
        for _ in range(50):
            await asyncio.sleep(0.1)
            if not provider.loaded_models():
                break
        assert provider.loaded_models() == []
    finally:
        await provider.aclose()


async def test_bad_files_fail_before_any_model_process_starts(provider, tmp_path: Path, tiny_gguf):
    for bad in (
        writers.write_empty(tmp_path / "empty.gguf"),
        writers.write_random_bytes(tmp_path / "noise.gguf"),
        writers.write_truncated(tmp_path / "half.gguf", tiny_gguf),
        writers.write_text_as_gguf(tmp_path / "text.gguf"),
    ):
        with pytest.raises(ModelFileError):
            [e async for e in provider.stream(request(bad))]
    assert provider.loaded_models() == []


async def test_a_model_file_damaged_after_a_reply_is_refused_on_the_next(provider, tmp_path: Path, tiny_gguf):
    """The header is read again when the file changed (it is not read before every reply)."""
    model = tmp_path / "model.gguf"
    model.write_bytes(tiny_gguf.read_bytes())
    assert [e async for e in provider.stream(request(model, max_tokens=2))]
    writers.write_truncated(tmp_path / "half.gguf", tiny_gguf).replace(model)
    with pytest.raises(ModelFileError, match="model.gguf"):
        [e async for e in provider.stream(request(model, max_tokens=2))]


def test_cli_chat_with_a_local_model_streams_and_saves(data_home: Path, tiny_gguf):
    env = cli_env(data_home)
    result = run_cli("chat", "-m", f"local:{tiny_gguf}", "--max-tokens", "8", "Hi there", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "llama_context" not in result.stderr  # llama.cpp's chatter goes to the log
    conversation_id = run_cli("history", "list", env=env).stdout.split()[0]
    shown = run_cli("history", "show", conversation_id, env=env).stdout
    assert "Hi there" in shown and f"local:{tiny_gguf}" in shown


@pytest.mark.parametrize("kind", ["empty", "noise", "text"])
def test_cli_bad_gguf_is_one_line_and_saves_nothing(data_home: Path, tmp_path: Path, kind):
    path = {
        "empty": writers.write_empty,
        "noise": writers.write_random_bytes,
        "text": writers.write_text_as_gguf,
    }[kind](tmp_path / f"{kind}.gguf")
    env = cli_env(data_home)
    result = run_cli("chat", "-m", f"local:{path}", "hi", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and f"{kind}.gguf" in result.stderr
    assert "no conversations yet" in run_cli("history", "list", env=env).stdout


async def test_a_stop_string_ends_the_reply_and_none_of_it_is_shown(provider, tiny_gguf):
    def text(events) -> str:
        return "".join(e.text for e in events if isinstance(e, TextDelta))

    free = text(
        [e async for e in provider.stream(request(tiny_gguf, max_tokens=60, seed=5, temperature=1.0))]
    )
    stop = free[len(free) // 2 : len(free) // 2 + 3]  # three characters from the middle of that reply
    assert len(stop) == 3
    events = [
        e
        async for e in provider.stream(
            request(tiny_gguf, max_tokens=60, seed=5, temperature=1.0, stop=(stop,))
        )
    ]
    assert text(events) == free[: free.index(stop)]
    assert events[-1].stop_reason is StopReason.END


def test_only_what_could_begin_a_stop_string_is_held_back():
    from dataelan_desktop.core.llamacpp.process import _stop_prefix

    assert _stop_prefix("Once upon", ["<|im_end|>"], 0) == 0  # the first words go at once
    assert _stop_prefix("Once upon<|im", ["<|im_end|>"], 0) == 4
    assert _stop_prefix("Once upon</", ["<|im_end|>", "</s>"], 0) == 2
    assert _stop_prefix("a<b<|", ["<|im_end|>"], 0) == 2  # the start that could still match


async def test_a_load_given_up_on_ends_its_process(tiny_gguf):
    from dataelan_desktop.core.llamacpp.client import ModelClient
    from tests.support.processes import wait_gone

    client = ModelClient(tiny_gguf, {})
    loading = asyncio.ensure_future(client.load())
    for _ in range(100):  # (the process starts in the task's first step)
        if client.pid is not None:
            break
        await asyncio.sleep(0)
    pid = client.pid
    loading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loading
    assert wait_gone([pid], 10) == [] and not client.alive
