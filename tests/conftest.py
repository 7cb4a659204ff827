"""Shared fixtures: an isolated data folder, an in-memory keyring, tiny GGUF models."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest

from tests.support.memory_keyring import MemoryKeyring
from tests.support.writers import WriteRecorder

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never reach for the real internet, even by accident.
for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
    os.environ.pop(var, None)
os.environ["HF_HUB_OFFLINE"] = "1"

#: one writer per table: every write the app makes during the run, checked when the run ends
WRITES = WriteRecorder()


@pytest.fixture(scope="session", autouse=True)
def writes() -> WriteRecorder:
    """Records which module of the app writes each table, for the whole run (see pytest_sessionfinish)."""
    WRITES.install()
    yield WRITES
    WRITES.uninstall()


@pytest.fixture(autouse=True)
def _name_the_writer(request: pytest.FixtureRequest, writes: WriteRecorder) -> None:
    writes.test = request.node.nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run fails if a table was written by anyone but its owning store."""
    stray = WRITES.violations()
    if stray:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["", "ONE WRITER PER TABLE broken:", *(f"  {line}" for line in stray)]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True, bold=True)
        else:
            print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DATAELAN_HOME: a fresh database, logs and models folder."""
    home = tmp_path / "dataelan-home"
    home.mkdir()
    monkeypatch.setenv("DATAELAN_HOME", str(home))
    import dataelan_desktop.core.secrets as secrets

    monkeypatch.setattr(secrets, "_default_store", None)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    """The keyring API with an in-memory backend (no Secret Service on a headless box)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def gguf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gguf")


@pytest.fixture(scope="session")
def tiny_gguf(gguf_dir: Path) -> Path:
    """A tiny llama-architecture chat model with a real tokenizer and chat template."""
    from tests.support.tiny_gguf import write_tiny_llama

    return write_tiny_llama(gguf_dir / "tiny-chat.gguf")


@pytest.fixture
def server():
    """A loopback server speaking OpenAI's chat-completions wire format; tests script its replies."""
    from tests.support.fake_openai import fake_openai_server

    started = fake_openai_server()
    yield started
    started.stop()


@pytest.fixture
def services(data_home: Path):
    """The app's services on a fresh database in the test's data folder."""
    from dataelan_desktop.core.services import build_services

    built = build_services()
    yield built
    built.close()
