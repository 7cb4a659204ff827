"""llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, as a real peer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, model: Path, model_alias: str = "tiny", n_ctx: int = 512, extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model_alias = model_alias
        self.log = model.parent / f"llama-server-{self.port}.log"
        self._args = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", model_alias,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx), *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> LlamaServer:
        self.process = subprocess.Popen(self._args, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/models", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
