"""Local-model overhead: the app's LocalProvider (model process) vs plain llama-cpp-python.

Both sides generate the same tokens: the same prompt through the model's chat template, the
same sampling settings and seed, and both stop at end-of-generation or after MAX_TOKENS. The
seed is one whose reply runs the full MAX_TOKENS (a random-weight model may end at once).
Both are timed from the request (the prompt through the chat template and the tokenizer
included, on both sides) to the first decoded text (time to first token) and from there to the
last token (tokens per second).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .harness import Figure, ratios

MAX_TOKENS = 400
SAMPLING = {"temp": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}


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


RUNS = 20  # more than the window's: a run is short (0.3 s), and a first token's time is noisy


def _plain_generator(path: Path):
    """A plain llama-cpp-python loop: ``once(seed) -> (tokens/s, time to first text, tokens)``."""
    import codecs

    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = Llama(str(path), n_ctx=1024, verbose=False)
    fmt = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token="<s>"
    )
    is_end = getattr(llm._model, "token_is_eog", None) or (lambda t: t == llm.token_eos())  # as the app

    def once(seed: int) -> tuple[float, float, int]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        began = time.perf_counter()
        # the prompt through the chat template and the tokenizer inside the timing, as the app and
        # llama-cpp-python's own create_chat_completion do it for every reply
        prompt = fmt(messages=[{"role": "user", "content": "Tell me a story"}]).prompt
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.set_seed(seed)
        first = None
        count = 0
        for token in llm.generate(tokens, **SAMPLING, repeat_penalty=1.0):
            if is_end(token):
                break
            count += 1
            if first is None and decoder.decode(llm.detokenize([token])):
                first = time.perf_counter()
            if count >= MAX_TOKENS:
                break
        end = time.perf_counter()
        return (count - 1) / (end - first) if first and count > 1 else 0.0, (first or end) - began, count

    return once


async def _measure(path: Path) -> list[Figure]:
    """Both sides' runs interleaved, quiet and under load: each run's tokens per second and time to first token."""
    from dataelan_desktop.core.llamacpp.provider import LocalProvider
    from dataelan_desktop.core.providers.types import (
        ChatMessage,
        ChatRequest,
        GenerationParams,
        TextDelta,
        Usage,
    )

    plain_once = _plain_generator(path)
    seed = next(s for s in range(1, 200) if plain_once(s)[2] >= MAX_TOKENS)
    provider = LocalProvider(db=None, idle_unload_seconds=0)
    params = GenerationParams(max_tokens=MAX_TOKENS, temperature=SAMPLING["temp"],
                              top_p=SAMPLING["top_p"], seed=seed)  # fmt: skip
    request = ChatRequest(model=str(path), messages=(ChatMessage("user", "Tell me a story"),), params=params)
    await provider.load(str(path))

    async def app_once() -> tuple[float, float]:
        began = time.perf_counter()
        first = None
        tokens = 0
        async for event in provider.stream(request):
            if isinstance(event, TextDelta) and first is None:
                first = time.perf_counter()
            if isinstance(event, Usage):
                tokens = event.output_tokens
        end = time.perf_counter()
        if tokens != MAX_TOKENS:
            raise RuntimeError(f"the app generated {tokens} tokens, the plain loop {MAX_TOKENS}")
        return (tokens - 1) / (end - first), first - began

    from .load import CONDITIONS

    figures = []
    try:
        await app_once()  # warm-up
        for condition, load in CONDITIONS:
            plain, app = [], []
            with load():
                for run in range(RUNS):  # interleaved, so drift of a noisy machine hits both alike,
                    if run % 2:  # and each side goes first in half the pairs (what ran just before
                        app.append(await app_once())  # leaves the caches and the clock as it likes)
                        plain.append(plain_once(seed)[:2])
                    else:
                        plain.append(plain_once(seed)[:2])
                        app.append(await app_once())
            figures += _figures(condition, plain, app)
    finally:
        await provider.aclose()
    return figures


def _figures(
    condition: str, plain: list[tuple[float, float]], app: list[tuple[float, float]]
) -> list[Figure]:
    """From each run's (tokens per second, time to first token) of both sides."""
    plain_tps, app_tps = [r[0] for r in plain], [r[0] for r in app]
    overheads = [(a[1] - p[1]) * 1000 for a, p in zip(app, plain, strict=True)]
    median = statistics.median
    plain_rate, app_rate = median(plain_tps), median(app_tps)
    # the median of the two sides' times to first token, as before; each run's difference is its spread
    overhead = (median(r[1] for r in app) - median(r[1] for r in plain)) * 1000
    at = f"[{condition}]"
    return [
        Figure(f"local {at}: plain llama-cpp-python", plain_rate, "t/s", None, "baseline", True, plain_tps),
        Figure(f"local {at}: LocalProvider via model process", app_rate, "t/s", plain_rate, "ratio >= 0.95",
               app_rate / plain_rate >= 0.95, ratios(app_tps, plain_tps)),
        Figure(f"local {at}: time-to-first-token overhead", overhead, "ms", None, "<= 20 ms", overhead <= 20,
               overheads),
    ]  # fmt: skip


def run() -> list[Figure]:
    return asyncio.run(_measure(_model()))
