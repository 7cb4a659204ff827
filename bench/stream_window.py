"""Streaming into the window: SDK → provider → chat service → SQLite → the main window painting offscreen.

The same loopback stream as ``streaming.py``, sent from the real composer of the real main
window on the app's qasync loop. Measured: tokens per second from the send to the reply
shown complete, against the plain SDK loop, and the longest gap between event-loop ticks
while the reply streams (a ticker coroutine asks to run every 2 ms; a longer gap is a stall a
person would feel as a frozen window).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

from .harness import Figure
from .loopback_server import loopback_server
from .plain_sdk import PlainLoop, plain_loop
from .streaming import PARAGRAPH, TOKENS

RUNS = 5


async def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the reply did not finish in time")
        await asyncio.sleep(0.005)


def _new_reply_shown_complete(window, shown_before: int, marker: str) -> bool:
    widgets = window.chat_view.shown_widgets()
    return (
        len(widgets) >= shown_before + 2  # this turn's message and its reply
        and widgets[-1].view.status == "complete"
        and marker in widgets[-1].view.content
    )


async def _one_stream(window, number: int) -> tuple[float, float]:
    """(tokens per second, longest loop gap in ms) for one reply."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    previous = window.conversation_id
    window.new_action.trigger()  # each reply in a conversation of its own (Ctrl+N)
    await _wait_for(lambda: window.conversation_id not in (None, previous))
    tick = asyncio.ensure_future(ticker())
    shown_before = len(window.chat_view.shown_widgets())
    began = time.perf_counter()
    window.composer.editor.setPlainText(f"go {number}")
    window.composer.send_button.click()
    await _wait_for(lambda: _new_reply_shown_complete(window, shown_before, f"t{TOKENS - 1}"))
    elapsed = time.perf_counter() - began
    done.set()
    await tick
    return TOKENS / elapsed, max(gaps) * 1000


def _measure(paragraph: int | None) -> tuple[float, float, float, float]:
    """(plain SDK t/s, app t/s, median of each run's longest stall, worst stall) for one reply shape."""
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-window-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with loopback_server(paragraph) as url, plain_loop(url + "/v1") as baseline:
        return _measure_against(app, url + "/v1", baseline)


def _measure_against(app, base_url: str, baseline: PlainLoop) -> tuple[float, float, float, float]:
    from concurrent.futures import ThreadPoolExecutor

    import qasync
    from PySide6.QtCore import QSettings

    from dataelan_desktop.core.connections.store import save_provider
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    loop = qasync.QEventLoop(app, already_running=False)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="bench"))
    asyncio.set_event_loop(loop)
    services = build_services()
    save_provider(services.db, "bench", base_url=base_url)
    services.bus.bind_loop(loop)
    settings = QSettings(
        os.path.join(os.environ["DATAELAN_HOME"], "settings.ini"), QSettings.Format.IniFormat
    )
    window = MainWindow(services, settings=settings, probe_servers=False)
    window.show()
    window.composer.set_model("bench:m")
    plain_rates, results = [], []
    try:
        loop.run_until_complete(_one_stream(window, 0))  # warm-up: network process, fonts, first layout
        for n in range(1, RUNS + 1):  # interleaved, so drift of a noisy machine hits both alike
            plain_rates.append(baseline.run())
            results.append(loop.run_until_complete(_one_stream(window, n)))
    finally:
        services.chat.stop_all()
        window.close()
        loop.run_until_complete(services.aclose())
        services.close()
        loop.close()
        asyncio.set_event_loop(None)
    rate = statistics.median(r[0] for r in results)
    stalls = [r[1] for r in results]
    return statistics.median(plain_rates), rate, statistics.median(stalls), max(stalls)


def run() -> list[Figure]:
    plain, rate, stall, worst = _measure(PARAGRAPH)
    figures = [
        Figure("streaming: plain SDK loop (window run)", plain, "t/s", None, "baseline", True),
        Figure(
            "streaming: ... + window painting offscreen",
            rate,
            "t/s",
            plain,
            "ratio >= 0.9",
            rate / plain >= 0.9,
        ),
        Figure("streaming: longest loop stall (median run)", stall, "ms", None, "<= 16 ms", stall <= 16),
        Figure("streaming: longest loop stall (worst run)", worst, "ms", None, "reported", True),
    ]
    # stress: the whole reply as one paragraph; Qt lays a paragraph out whole on every append
    plain, rate, stall, _worst = _measure(None)
    figures += [
        Figure("streaming: one-paragraph reply, window", rate, "t/s", plain, "reported", True),
        Figure("streaming: one-paragraph reply, longest stall", stall, "ms", None, "reported", True),
    ]
    return figures
