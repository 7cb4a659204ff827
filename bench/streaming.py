"""Streaming pipeline: tokens/s through SDK → provider → chat service with persistence, vs a plain SDK loop."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure, ratios

TOKENS = 20_000
PARAGRAPH = 40  # tokens per paragraph: a reply is paragraphs, not one 130 KB line


def reply_tokens(paragraph: int | None = PARAGRAPH) -> list[str]:
    """The streamed reply: ``t0 t1 …``, with a blank line every ``paragraph`` tokens (None: never)."""
    return [f"t{i}\n\n" if paragraph and (i + 1) % paragraph == 0 else f"t{i} " for i in range(TOKENS)]


def _server(paragraph: int | None = PARAGRAPH):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.fake_openai import fake_openai_server, openai_stream

    server = fake_openai_server()
    server.default = lambda _request: openai_stream(reply_tokens(paragraph))
    return server


async def _plain(base_url: str, latencies: list[float]) -> float:
    """One stream through the plain SDK; tokens that carry their sending time (a paced stream)
    add how long they took to reach this loop to ``latencies`` (ms)."""
    import openai

    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    began = time.perf_counter()
    count = 0
    stream = await client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            count += 1
            text = chunk.choices[0].delta.content
            if text[0] == "@":
                latencies.append((time.monotonic() - float(text[1:])) * 1000)
    await client.close()
    return count / (time.perf_counter() - began)


async def _through_app(services) -> float:
    conversation = await services.chat.start_conversation(model="bench:m")
    began = time.perf_counter()
    generation = await services.chat.send(conversation.id, "go")
    await generation.wait()
    assert generation.status == "complete", generation.error
    return TOKENS / (time.perf_counter() - began)


def run() -> list[Figure]:
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-")
    from dataelan_desktop.core.connections.store import save_provider
    from dataelan_desktop.core.services import build_services

    from .load import CONDITIONS
    from .loopback_server import loopback_server
    from .plain_sdk import plain_loop

    services = build_services()
    loop = asyncio.new_event_loop()
    figures = []
    with loopback_server(PARAGRAPH) as url, plain_loop(url + "/v1") as baseline:
        save_provider(services.db, "bench", base_url=url + "/v1")
        try:
            loop.run_until_complete(_through_app(services))  # warm-up: network process, first request
            for condition, load in CONDITIONS:
                plain_rates, app_rates = [], []
                with load():
                    for _ in range(5):  # interleaved, so drift of a noisy machine hits both alike
                        plain_rates.append(baseline.run())
                        app_rates.append(loop.run_until_complete(_through_app(services)))
                plain, app = statistics.median(plain_rates), statistics.median(app_rates)
                figures += [
                    Figure(f"pipeline [{condition}]: plain openai SDK loop", plain, "t/s", None, "baseline",
                           True, plain_rates),
                    Figure(f"pipeline [{condition}]: SDK+provider+chat service+SQLite", app, "t/s", plain,
                           "ratio >= 0.9", app / plain >= 0.9, ratios(app_rates, plain_rates)),
                ]  # fmt: skip
        finally:
            loop.run_until_complete(services.aclose())
            loop.close()
            services.close()
    return figures
