"""A real `dataelan server run` in a subprocess on a loopback port, with its log collected."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from dataelan_desktop.cli.server import DEFAULT_PORT
from tests.support.cli import REPO, cli_env, run_cli

FAST_HASHING = {
    "DATAELAN_SERVER_ARGON2_TIME_COST": "1",
    "DATAELAN_SERVER_ARGON2_MEMORY_KIB": "8192",
    "DATAELAN_SERVER_ARGON2_PARALLELISM": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, home: Path, database_url: str | None, **env: str):
        """``database_url`` None: the server's default, SQLite in ``$DATAELAN_HOME/server``."""
        self.home = home
        self.database_url = database_url
        self.where = ["--database", database_url] if database_url else []
        self.env = cli_env(home, **FAST_HASHING, **env)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._marker = threading.Event()
        self._marker_text = "\0"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli("server", *args, *self.where, env=self.env, input=input)

    def add_user(self, name: str, password: str) -> None:
        result = self.admin("add-user", name, "--password-stdin", input=password + "\n")
        assert result.returncode == 0, result.stderr

    def start(self, *, alone: bool = False, **env: str) -> LiveServer:
        """``alone``: `dataelan server` with no action and no option (its default port, 8765)."""
        if alone:
            self.port = DEFAULT_PORT
        command = ["server"] if alone else ["server", "run", "--port", str(self.port), *self.where]
        self.log.append(f"--- start on {self.port}")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dataelan_desktop.cli.main", *command],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )  # fmt: skip
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited:\n" + "\n".join(self.log))
            try:
                if httpx.get(self.url + "/v1/version", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start in 60 s:\n" + "\n".join(self.log))

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.log.append(line.rstrip("\n"))
            if self._marker_text in line:
                self._marker.set()

    def wait_for_log(self, text: str, timeout: float = 60) -> bool:
        self._marker_text = text
        if any(text in line for line in self.log):
            return True
        return self._marker.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._marker.clear()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
