"""UI fixtures: the real main window on a qasync loop, driven by pytest-qt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

#: Closed loops are kept until the process ends. Each owns a QObject with Qt timers; if the
#: garbage collector freed one from a worker thread, Qt could not unregister its timers there
#: and a later timer event would reach freed memory (a segfault seen in full runs).
_FINISHED_LOOPS: list = []


@pytest.fixture
def qloop(qapp):
    """A qasync event loop on the test's QApplication; tests run coroutines on it with ``ui_run``."""
    from concurrent.futures import ThreadPoolExecutor

    import qasync

    loop = qasync.QEventLoop(qapp, already_running=False)
    # plain threads for to_thread(): qasync's QThread executor aborts the process if a
    # QThread outlives the test session
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="ui-test"))
    asyncio.set_event_loop(loop)
    yield loop
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        loop.close()
        _FINISHED_LOOPS.append(loop)
        asyncio.set_event_loop(None)


@pytest.fixture
def ui_run(qloop) -> Callable[[Coroutine], Any]:
    def run(coro: Coroutine, timeout: float = 120) -> Any:
        return qloop.run_until_complete(asyncio.wait_for(coro, timeout))

    return run


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, message: str = "") -> Any:
    """Let the loop (and Qt) run until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {message or predicate}")


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qloop, qtbot, services, qsettings):
    from dataelan_desktop.ui.main.window import MainWindow

    services.bus.bind_loop(qloop)
    win = MainWindow(services, settings=qsettings, probe_servers=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    services.chat.stop_all()
    win.close()
    qloop.run_until_complete(services.registry.aclose())  # model hosts end with the test


@pytest.fixture
def two_servers(services):
    """Two loopback OpenAI-wire servers saved as providers "one" (a little slower) and "two"."""
    from dataelan_desktop.core.connections.store import save_provider
    from tests.support.fake_openai import fake_openai_server, openai_stream

    first, second = fake_openai_server(), fake_openai_server()
    first.default = openai_stream(["first ", "model ", "speaks"], delay=0.02)
    second.default = openai_stream(["second ", "model"])
    save_provider(services.db, "one", base_url=first.base_url + "/v1")
    save_provider(services.db, "two", base_url=second.base_url + "/v1")
    yield first, second
    first.stop()
    second.stop()
