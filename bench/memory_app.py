"""The memory benchmark's app: the real main window, its services and their helper processes.

``python -m bench.memory_app`` with OPENAI_BASE_URL / ANTHROPIC_BASE_URL (and keys) pointing
at loopback servers: prints ``idle MB`` once the window is up, the sidebar listed and the
providers' models listed (the network process started, as it does for a person with keys),
then ``after MB`` once one reply from each cloud SDK is shown complete. MB is the resident
memory of all the app's processes together (this one and every helper process it started: the
network process, multiprocessing's resource tracker), then of this one alone, then the
proportional sum (PSS) over all, then how many processes there are, then the resident memory of all
together with each physical page counted once (``procs.resident_together_mb``; the RSS sum where
that cannot be read).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest")


def whole_app_mb() -> str:
    """The resident memory of all the app's processes, of this (the window's) process alone, and the
    proportional sum over all (shared libraries counted once), in MB; then how many processes."""
    from bench import procs

    pids = [os.getpid(), *procs.children()]
    rss = sum(procs.rss_mb(pid) for pid in pids)
    pss = sum(procs.pss_mb(pid) for pid in pids)
    together = procs.resident_together_mb(pids)
    return f"{rss:.1f} {procs.rss_mb():.1f} {pss:.1f} {len(pids)} {together if together is not None else rss:.1f}"


async def _until(predicate, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.01)


async def _settle() -> None:
    """Idle as a person's app is between actions: a moment with nothing to do."""
    gc.collect()
    await asyncio.sleep(1.0)


async def _script(window) -> None:
    await window.wait_until_listed()
    picker = window.composer.model_picker
    # both providers' models listed: the network process started and built both SDKs' clients
    await _until(lambda: all(picker.findText(model) >= 0 for model in MODELS))
    await _settle()
    print(f"idle {whole_app_mb()}", flush=True)
    for number, model in enumerate(MODELS):
        previous = window.conversation_id
        window.new_action.trigger()
        await _until(lambda: window.conversation_id not in (None, previous))  # noqa: B023
        shown = len(window.chat_view.shown_widgets())
        window.composer.set_model(model)
        window.composer.editor.setPlainText(f"hello {number}")
        window.composer.send_button.click()

        def complete() -> bool:
            widgets = window.chat_view.shown_widgets()
            return len(widgets) >= shown + 2 and widgets[-1].view.status == "complete"  # noqa: B023

        await _until(complete)
    await _settle()
    print(f"after {whole_app_mb()}", flush=True)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from concurrent.futures import ThreadPoolExecutor

    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    app = QApplication([])
    loop = qasync.QEventLoop(app, already_running=False)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="dataelan-worker"))
    asyncio.set_event_loop(loop)
    services = build_services()
    services.bus.bind_loop(loop)
    settings = QSettings(
        os.path.join(os.environ["DATAELAN_HOME"], "settings.ini"), QSettings.Format.IniFormat
    )
    window = MainWindow(services, settings=settings, probe_servers=False)
    window.show()
    try:
        loop.run_until_complete(_script(window))
    finally:
        services.chat.stop_all()
        window.close()
        loop.run_until_complete(services.aclose())
        services.close()


if __name__ == "__main__":
    main()
