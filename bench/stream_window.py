"""Streaming into the window: SDK → provider → chat service → SQLite → the main window painting offscreen.

The same loopback stream as ``streaming.py``, sent from the real composer of the real main
window on the app's qasync loop. Measured, quiet and with one competing CPU-bound process
(``load.py``), against the plain SDK loop run interleaved under the same load:

- tokens per second from the send to the reply shown complete;
- the longest gap between event-loop ticks while the reply streams (a ticker coroutine asks to
  run every 2 ms; a longer gap is a stall a person would feel as a frozen window);
- CPU seconds per 10,000 tokens of all the app's processes (this one, with the window, the chat
  service and SQLite; and the network process, where the SDK parses), against the plain loop's;
- at a person's pace (``paced.py``: 200 tokens a second, each stamped with the moment it left
  the server), how long a token takes from the server to the paint that shows it, p50 and p99.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from contextlib import ExitStack

from . import paced, procs
from .harness import Figure, ratios
from .load import CONDITIONS
from .loopback_server import loopback_server
from .plain_sdk import PlainLoop, plain_loop
from .streaming import PARAGRAPH, TOKENS

RUNS = 5
PACED_RUNS = 2
SHAPES = {"bench": PARAGRAPH, "stress": None, "paced": "paced"}  # provider name → reply shape


async def _wait_for(predicate, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the reply did not finish in time")
        await asyncio.sleep(0.005)


def _new_reply(window, shown_before: int):
    widgets = window.chat_view.shown_widgets()
    return widgets[-1] if len(widgets) >= shown_before + 2 else None  # this turn's message and its reply


def _shown_complete(window, shown_before: int, marker: str) -> bool:
    reply = _new_reply(window, shown_before)
    return reply is not None and reply.view.status == "complete" and marker in reply.view.content


class PaintClock:
    """On each paint of the streaming reply, how long ago its newly painted tokens left the server."""

    def __init__(self) -> None:
        from PySide6.QtCore import QEvent, QObject

        clock = self

        class Filter(QObject):
            def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
                if event.type() == QEvent.Type.Paint:
                    clock.painted()
                return False

        self.filter = Filter()
        self.widget = None
        self.seen = 0
        self.latencies_ms: list[float] = []

    def watch(self, widget) -> None:
        self.widget = widget
        widget.stream_view.viewport().installEventFilter(self.filter)

    def painted(self) -> None:
        now = time.monotonic()
        text = self.widget.stream_view.toPlainText()
        self.latencies_ms += [(now - sent) * 1000 for sent in paced.sent_times(text[self.seen :])]
        self.seen = len(text)


async def _one_stream(
    window, number: int, marker: str, clock: PaintClock | None = None
) -> tuple[float, float]:
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
    if clock is not None:  # watch the reply's paints from its first (the paint timer starts with it)
        await _wait_for(lambda: _new_reply(window, shown_before) is not None)
        clock.watch(_new_reply(window, shown_before))
    try:
        await _wait_for(lambda: _shown_complete(window, shown_before, marker))
    except TimeoutError:
        reply = _new_reply(window, shown_before)
        shown = "no reply shown" if reply is None else f"{reply.view.status}: {reply.view.error}"
        raise TimeoutError(f"the reply did not finish in time ({shown})") from None
    elapsed = time.perf_counter() - began
    done.set()
    await tick
    return TOKENS / elapsed, max(gaps) * 1000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Bench:
    """The real main window on the app's qasync loop, one provider per reply shape."""

    def __init__(self, app, urls: dict[str, str]):
        from concurrent.futures import ThreadPoolExecutor

        import qasync
        from PySide6.QtCore import QSettings

        from dataelan_desktop.core.connections.store import save_provider
        from dataelan_desktop.core.services import build_services
        from dataelan_desktop.ui.main.window import MainWindow

        self.loop = qasync.QEventLoop(app, already_running=False)
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="bench"))
        asyncio.set_event_loop(self.loop)
        self.services = build_services()
        for name, url in urls.items():
            save_provider(self.services.db, name, base_url=url + "/v1")
        self.services.bus.bind_loop(self.loop)
        settings = QSettings(
            os.path.join(os.environ["DATAELAN_HOME"], "settings.ini"), QSettings.Format.IniFormat
        )
        self.window = MainWindow(self.services, settings=settings, probe_servers=False)
        self.window.show()
        self.number = 0

    def stream(self, shape: str, clock: PaintClock | None = None) -> tuple[float, float, float, float]:
        """One reply of ``shape``: (tokens per second, longest stall in ms, CPU seconds of the
        window's process, CPU seconds of the network process)."""
        self.window.composer.set_model(f"{shape}:m")
        marker = "" if shape == "paced" else f"t{TOKENS - 1}"
        network = self.services.registry.network.pid
        window_before, network_before = procs.cpu_seconds(), procs.cpu_seconds(network)
        self.number += 1
        rate, stall = self.loop.run_until_complete(_one_stream(self.window, self.number, marker, clock))
        if self.services.registry.network.pid != network:  # (started by this reply)
            network, network_before = self.services.registry.network.pid, 0.0
        return rate, stall, procs.cpu_seconds() - window_before, procs.cpu_seconds(network) - network_before

    def close(self) -> None:
        self.services.chat.stop_all()
        self.window.close()
        self.loop.run_until_complete(self.services.aclose())
        self.services.close()
        self.loop.close()
        asyncio.set_event_loop(None)


def _throughput(bench: Bench, baseline: PlainLoop, shape: str, condition: str) -> list[Figure]:
    plain_rates, plain_cpu, rates, stalls, cpu, window_cpu, network_cpu = [], [], [], [], [], [], []
    for _ in range(RUNS):  # interleaved, so drift of a noisy machine hits both alike
        plain_rates.append(baseline.run())
        plain_cpu.append(baseline.cpu_seconds * 10_000 / TOKENS)
        rate, stall, window, network = bench.stream(shape)
        rates.append(rate)
        stalls.append(stall)
        cpu.append((window + network) * 10_000 / TOKENS)
        window_cpu.append(window * 10_000 / TOKENS)
        network_cpu.append(network * 10_000 / TOKENS)
    plain, rate, stall = statistics.median(plain_rates), statistics.median(rates), statistics.median(stalls)
    at = f"[{condition}]"
    if shape == "stress":  # the whole reply as one paragraph: Qt lays a paragraph out whole on every append
        return [
            Figure(f"window {at}: one-paragraph reply", rate, "t/s", plain, "reported", True,
                   ratios(rates, plain_rates)),
            Figure(f"window {at}: one-paragraph reply, longest stall", stall, "ms", None, "<= 33 ms",
                   stall <= 33, stalls),
        ]  # fmt: skip
    app_cpu, base_cpu = statistics.median(cpu), statistics.median(plain_cpu)
    return [
        Figure(f"window {at}: plain SDK loop", plain, "t/s", None, "baseline", True, plain_rates),
        Figure(f"window {at}: ... + window painting offscreen", rate, "t/s", plain, "ratio >= 0.9",
               rate / plain >= 0.9, ratios(rates, plain_rates)),
        Figure(f"window {at}: longest loop stall (median run)", stall, "ms", None, "<= 16 ms",
               stall <= 16, stalls),
        Figure(f"window {at}: CPU s per 10k tokens, all app processes", app_cpu, "s", base_cpu,
               "ratio <= 1.5", app_cpu / base_cpu <= 1.5, ratios(cpu, plain_cpu)),
        Figure(f"window {at}: ... of which the window's process", statistics.median(window_cpu), "s", None,
               "reported", True, window_cpu),
        Figure(f"window {at}: ... of which the network process", statistics.median(network_cpu), "s", None,
               "reported", True, network_cpu),
    ]  # fmt: skip


def _latency(bench: Bench, baseline: PlainLoop, condition: str) -> list[Figure]:
    p50s, p99s, plain_p99s = [], [], []
    for _ in range(PACED_RUNS):
        baseline.run()
        plain_p99s.append(_percentile(baseline.latencies_ms, 0.99))
        clock = PaintClock()
        bench.stream("paced", clock)
        if len(clock.latencies_ms) < paced.TOKENS:
            raise RuntimeError(f"{len(clock.latencies_ms)} of {paced.TOKENS} paced tokens were seen painted")
        p50s.append(_percentile(clock.latencies_ms, 0.5))
        p99s.append(_percentile(clock.latencies_ms, 0.99))
    p50, p99, plain = statistics.median(p50s), statistics.median(p99s), statistics.median(plain_p99s)
    at = f"[{condition}]"
    return [
        Figure(f"window {at}: plain SDK, server -> parsed, p99", plain, "ms", None, "baseline", True,
               plain_p99s),
        Figure(f"window {at}: server -> painted at 200 t/s, p50", p50, "ms", None, "reported", True, p50s),
        Figure(f"window {at}: server -> painted at 200 t/s, p99", p99, "ms", None, "<= 50 ms", p99 <= 50,
               p99s),
    ]  # fmt: skip


def run() -> list[Figure]:
    os.environ["DATAELAN_HOME"] = tempfile.mkdtemp(prefix="dataelan-bench-window-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    figures: list[Figure] = []
    with ExitStack() as servers:
        urls = {name: servers.enter_context(loopback_server(shape)) for name, shape in SHAPES.items()}
        baselines = {name: servers.enter_context(plain_loop(url + "/v1")) for name, url in urls.items()}
        bench = Bench(app, urls)
        try:
            for shape in SHAPES:
                bench.stream(shape)  # warm-up: network process, fonts, first layout
            for condition, load in CONDITIONS:
                with load():
                    figures += _throughput(bench, baselines["bench"], "bench", condition)
                    figures += _throughput(bench, baselines["stress"], "stress", condition)
                    figures += _latency(bench, baselines["paced"], condition)
        finally:
            bench.close()
    return figures
