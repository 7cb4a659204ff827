"""The streaming benchmarks' OpenAI-wire server, in its own process.

A server thread inside the measured process would take the GIL from the loop being
measured; a real provider never runs inside the app. ``python -m bench.loopback_server N``
serves the reply of ``streaming.reply_tokens(N)`` (0: one paragraph) until its stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def loopback_server(paragraph: int | None) -> Iterator[str]:
    """Start the server process; yields its base URL (``http://127.0.0.1:PORT``)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.loopback_server", str(paragraph or 0)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        yield line
    finally:
        process.stdin.close()
        process.wait(timeout=10)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.streaming import _server

    paragraph = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = _server(paragraph or None)
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop()


if __name__ == "__main__":
    main()
