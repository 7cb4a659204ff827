"""Memory of the whole app: the resident memory of all its processes together (``memory_app.py``).

Idle (window up, conversations and both cloud providers' models listed) and after one reply
from each cloud SDK (openai, anthropic), each against a loopback server speaking its wire
format. A person's other AI chat app is the comparison the targets come from (pyGPT used about
900 MB on this kind of machine); the figures here are absolute, measured in fresh processes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from .harness import Figure
from .loopback_server import loopback_server

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3


def _once(env: dict[str, str]) -> tuple[float, ...]:
    """(whole app idle, window process idle, whole app after, window process after) in MB."""
    env = {**env, "DATAELAN_HOME": tempfile.mkdtemp(prefix="dataelan-bench-memory-")}
    process = subprocess.run(
        [sys.executable, "-m", "bench.memory_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = {
        line.split()[0]: [float(x) for x in line.split()[1:]]
        for line in process.stdout.splitlines()
        if line.startswith(("idle ", "after "))
    }
    if process.returncode != 0 or len(found) != 2:
        raise RuntimeError(f"the memory benchmark's app failed: {process.stderr[-2000:]}")
    return (*found["idle"], *found["after"])


def run() -> list[Figure]:
    with ExitStack() as servers:
        openai_url = servers.enter_context(loopback_server("openai"))
        anthropic_url = servers.enter_context(loopback_server("anthropic"))
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "OPENAI_BASE_URL": openai_url + "/v1",
            "OPENAI_API_KEY": "sk-bench-memory",
            "ANTHROPIC_BASE_URL": anthropic_url,
            "ANTHROPIC_API_KEY": "sk-ant-bench-memory",
        }
        runs = [_once(env) for _ in range(RUNS)]
    idle, window_idle, after, window_after = ([r[i] for r in runs] for i in range(4))
    median = statistics.median
    idle_mb, after_mb = median(idle), median(after)
    return [
        Figure("memory: whole app idle, models listed", idle_mb, "MB", None, "<= 150 MB", idle_mb <= 150, idle),
        Figure("memory: ... of which the window's process", median(window_idle), "MB", None, "reported", True,
               window_idle),
        Figure("memory: whole app after a reply from each cloud SDK", after_mb, "MB", None, "<= 220 MB",
               after_mb <= 220, after),
        Figure("memory: ... of which the window's process", median(window_after), "MB", None, "reported", True,
               window_after),
    ]  # fmt: skip
