"""GUI bootstrap: QApplication on a qasync event loop, the services, the main window."""

from __future__ import annotations

import asyncio
import os
import sys
import time


def resident_kb() -> int:
    """Current resident memory (VmRSS; ru_maxrss would carry a parent's peak across exec on Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_gui(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    import qasync
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Dataelan Desktop")
    app.setOrganizationName("Dataelan")
    app.setDesktopFileName("dataelan")
    loop = qasync.QEventLoop(app)
    from concurrent.futures import ThreadPoolExecutor

    # plain threads for asyncio.to_thread (SDK imports, keyring): no QThread may outlive the app
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="dataelan-worker"))
    asyncio.set_event_loop(loop)

    from .core.db.engine import CorruptDatabaseError
    from .core.services import build_services, setup_logging

    try:
        services = build_services()
    except CorruptDatabaseError as error:
        backups = "\n".join(str(b) for b in error.backups[:3]) or "(none yet)"
        QMessageBox.critical(
            None,
            "Dataelan cannot open its database",
            f"{error}\n\nTo recover, quit and copy a backup over the damaged file:\n{backups}",
        )
        return 1
    setup_logging(services.secrets)
    services.bus.bind_loop(loop)

    from .ui.main_window import MainWindow

    window = MainWindow(services)
    window.show()
    if os.environ.get("DATAELAN_EXIT_WHEN_IDLE"):  # start-up benchmark: report and quit once idle
        from PySide6.QtCore import QTimer

        def report() -> None:
            print(f"window-shown-idle {time.perf_counter() - started:.4f} rss-kb {resident_kb()}", flush=True)
            app.quit()

        QTimer.singleShot(0, report)

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
        loop.run_until_complete(services.aclose())
    services.close()
    return 0
