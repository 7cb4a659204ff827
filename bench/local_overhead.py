"""Local-model overhead: the app's LocalProvider (model-host process) vs plain llama-cpp-python."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure

MAX_TOKENS = 200


def _model() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.tiny_gguf import write_tiny_llama

    # larger than the test model so a token takes measurable time
    return write_tiny_llama(
        Path(tempfile.mkdtemp()) / "bench.gguf",
        n_embd=256,
        n_layer=4,
        n_head=8,
        n_head_kv=4,
        n_ff=768,
        n_ctx=1024,
    )


def _plain(path: Path) -> tuple[float, float]:
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=1024, verbose=False, seed=1)
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token="<s>"
    )

    def once() -> tuple[float, float]:
        prompt = fmt(messages=[{"role": "user", "content": "Tell me a story"}]).prompt
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        began = time.perf_counter()
        first = None
        count = 0
        for _token in llm.generate(tokens, temp=0.8, top_k=40, top_p=0.95, min_p=0.05):
            first = first or time.perf_counter()
            count += 1
            if count >= MAX_TOKENS:
                break
        end = time.perf_counter()
        return count / (end - first), first - began

    once()
    runs = [once() for _ in range(5)]
    return sorted(r[0] for r in runs)[2], sorted(r[1] for r in runs)[2]


async def _app(path: Path) -> tuple[float, float]:
    from dataelan_desktop.core.providers.local import LocalProvider
    from dataelan_desktop.core.providers.types import (
        ChatMessage,
        ChatRequest,
        GenerationParams,
        TextDelta,
        Usage,
    )

    provider = LocalProvider(db=None, idle_unload_seconds=0)
    request = ChatRequest(model=str(path), messages=(ChatMessage("user", "Tell me a story"),),
                          params=GenerationParams(max_tokens=MAX_TOKENS))  # fmt: skip
    await provider.load(str(path))
    results = []
    try:
        for _ in range(6):
            began = time.perf_counter()
            first = None
            tokens = 0
            async for event in provider.stream(request):
                if isinstance(event, TextDelta) and first is None:
                    first = time.perf_counter()
                if isinstance(event, Usage):
                    tokens = event.output_tokens
            end = time.perf_counter()
            results.append((tokens / (end - first), first - began))
    finally:
        await provider.aclose()
    runs = results[1:]
    return sorted(r[0] for r in runs)[2], sorted(r[1] for r in runs)[2]


def run() -> list[Figure]:
    path = _model()
    plain_tps, plain_ttft = _plain(path)
    app_tps, app_ttft = asyncio.run(_app(path))
    overhead_ms = (app_ttft - plain_ttft) * 1000
    return [
        Figure("local: plain llama-cpp-python", plain_tps, "t/s", None, "baseline", True),
        Figure(
            "local: LocalProvider via model host",
            app_tps,
            "t/s",
            plain_tps,
            "ratio >= 0.95",
            app_tps / plain_tps >= 0.95,
        ),
        Figure("local: time-to-first-token overhead", overhead_ms, "ms", None, "<= 20 ms", overhead_ms <= 20),
    ]
