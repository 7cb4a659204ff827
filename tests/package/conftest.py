"""Tests of the built bundle, dist/dataelan: `make package-test` runs them, `make test` does not.

The bundle is started as a user would start it: its own executable, no virtual environment on
PATH, no PYTHONPATH, a minimal environment (PATH, HOME, LANG and what the test is about), in an
empty working folder. The window runs on a real X server (Xvfb), not the offscreen platform.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "dist" / "dataelan"
EXECUTABLE = BUNDLE / "dataelan"

# only with DATAELAN_PACKAGE_TEST=1 (make package-test): they need a bundle that `make test` does not build
collect_ignore_glob = [] if os.environ.get("DATAELAN_PACKAGE_TEST") else ["test_*.py"]


class Bundle:
    """Runs dist/dataelan/dataelan in a minimal environment with its own data folder."""

    def __init__(self, root: Path):
        self.home = root / "home"  # $HOME: nothing of ours should land here
        self.data = root / "data"  # DATAELAN_HOME
        self.cwd = root / "cwd"
        for folder in (self.home, self.data, self.cwd):
            folder.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",  # no venv
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "DATAELAN_HOME": str(self.data),
            "QT_QPA_PLATFORM": "offscreen",
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EXECUTABLE), *args],
            env=self.env(**env),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(EXECUTABLE), *args],
            env=self.env(**env),
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def executable() -> Path:
    if not EXECUTABLE.is_file():
        pytest.fail(f"{EXECUTABLE} is missing: build it with `make package`")
    return EXECUTABLE


@pytest.fixture
def bundle(executable: Path, tmp_path: Path) -> Bundle:
    return Bundle(tmp_path)


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A virtual X server on a free display (Xvfb picks it: -displayfd); yields DISPLAY."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb; make package-test installs it as root)")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number:
            pytest.fail("Xvfb did not start within 30 s")
        yield f":{number}"
    finally:
        os.close(read)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` (every 0.1 s, at most ``timeout`` s) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen) -> tuple[str, str]:
    """End a window that was left running; its output."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def libraries_outside_the_bundle(pid: int) -> set[str]:
    """Shared libraries a process mapped from anywhere but the bundle and the system's folders."""
    system = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/")
    outside = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1] if len(line.split()) >= 6 else ""
        if ".so" in path and not path.startswith((str(BUNDLE) + "/", *system)):
            outside.add(path)
    return outside
