"""The baseline of the streaming benchmarks: a plain loop over the openai SDK's stream, in a process of its own.

A person's plain script imports nothing but the SDK. Run inside the benchmark's process, after
PySide6 was imported, the same loop parses a fifth slower: PySide6's import hook wraps
``__import__``, and the SDK imports inside its per-chunk parsing. So the baseline runs here,
in a clean interpreter, one stream per line read from stdin (the caller interleaves them with
its own runs), printing tokens per second.

``python -m bench.plain_sdk BASE_URL``
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class PlainLoop:
    """The baseline process; :meth:`run` streams once there and returns its tokens per second.

    After each run ``cpu_seconds`` is the CPU time the process spent on that stream, and
    ``latencies_ms`` (for a paced stream whose tokens carry the time they left the server) how
    long each token took from the server to the SDK's parsed chunk.
    """

    def __init__(self, process: subprocess.Popen):
        self._process = process
        self.cpu_seconds = 0.0
        self.latencies_ms: list[float] = []

    def run(self) -> float:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline().strip()
        try:
            rate, cpu, *latencies = (float(x) for x in line.split())
        except ValueError:
            raise RuntimeError(f"the plain SDK loop failed: {line!r}") from None
        self.cpu_seconds, self.latencies_ms = cpu, latencies
        return rate


@contextmanager
def plain_loop(base_url: str) -> Iterator[PlainLoop]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.plain_sdk", base_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield PlainLoop(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.streaming import _plain

    base_url = sys.argv[1]
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_plain(base_url, []))  # warm-up: imports, the first connection
    for _line in sys.stdin:
        latencies: list[float] = []
        began = time.process_time()  # this process's CPU, all threads
        rate = loop.run_until_complete(_plain(base_url, latencies))
        cpu = time.process_time() - began
        print(rate, cpu, *(f"{ms:.3f}" for ms in latencies), flush=True)


if __name__ == "__main__":
    main()
