"""The streaming benchmarks' OpenAI-wire server, in its own process.

A server thread inside the measured process would take the GIL from the loop being
measured; a real provider never runs inside the app. ``python -m bench.loopback_server N``
serves the reply of ``streaming.reply_tokens(N)`` (0: one paragraph) until its stdin closes;
``python -m bench.loopback_server paced`` serves ``paced.paced_chunks()`` (200 tokens a second);
``openai`` or ``anthropic``: a reply of REPLY tokens in that SDK's wire format (``/v1/models`` too).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPLY = 800  # tokens of an ordinary reply


@contextmanager
def loopback_server(paragraph: int | None | str) -> Iterator[str]:
    """Start the server process; yields its base URL (``http://127.0.0.1:PORT``). ``paragraph``
    is the reply's shape (tokens per paragraph, None for one paragraph, or "paced")."""
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

    shape = sys.argv[1] if len(sys.argv) > 1 else "0"
    if shape == "paced":
        from bench.paced import paced_chunks
        from tests.support.fake_openai import fake_openai_server
        from tests.support.sse_server import Reply

        server = fake_openai_server()
        server.default = lambda _request: Reply(200, paced_chunks())
    elif shape in ("openai", "anthropic"):  # a reply of ordinary length, in each SDK's wire format
        from bench.streaming import reply_tokens
        from tests.support.fake_anthropic import anthropic_stream, fake_anthropic_server
        from tests.support.fake_openai import fake_openai_server, openai_stream

        pieces = reply_tokens()[:REPLY]
        server = fake_openai_server() if shape == "openai" else fake_anthropic_server()
        server.default = (openai_stream if shape == "openai" else anthropic_stream)(pieces)
    else:
        server = _server(int(shape) or None)
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    server.stop()


if __name__ == "__main__":
    main()
