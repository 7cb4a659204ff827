"""A stream at a person's pace: the latency figure's reply, 200 tokens a second.

Each token is the moment it left the server (``@<time.monotonic()> ``; CLOCK_MONOTONIC is one
clock for every process on the machine), so the window can tell, when it paints a token, how
long the token took from the server to the screen. Served by ``loopback_server`` in its own
process, in the OpenAI wire format of the tests' fake server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

RATE = 200  # tokens per second: a fast cloud model as a person sees it
TOKENS = 2_000  # ten seconds of reply: enough tokens for a 99th percentile
PARAGRAPH = 40  # tokens per paragraph, as in streaming.py
STAMP = re.compile(r"@(\d+\.\d+)")


def paced_chunks(rate: float = RATE, count: int = TOKENS) -> Iterator[bytes]:
    """The SSE chunks of one reply, each token made (and stamped) at its time; lazily, so the
    stamp is taken just before the chunk is written."""
    from tests.support.fake_openai import openai_chunks

    head, *_ = openai_chunks([], usage=False, done=False)
    yield head
    began = time.monotonic()
    for i in range(count):
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        end = "\n\n" if (i + 1) % PARAGRAPH == 0 else " "  # paragraphs, as a reply has them
        _role, chunk, _finish = openai_chunks([f"@{time.monotonic():.6f}{end}"], usage=False, done=False)
        yield chunk
    yield from openai_chunks([], prompt_tokens=7, done=True)[1:]


def sent_times(text: str) -> list[float]:
    """The sending times of the tokens in ``text``."""
    return [float(m) for m in STAMP.findall(text)]
