"""GUI bootstrap: QApplication on a qasync event loop, the services, the main window."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cli.launch import OpenRequest

APP_ID = "io.dataelan.Desktop"  # the desktop entry's name (packaging/): Wayland matches windows to it


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


def _open_services():
    """Runs on a worker thread while the window is already on screen: the database layer's imports,
    opening (and if needed migrating) the database, keyring discovery."""
    from .core.services import build_services, setup_logging

    services = build_services()
    setup_logging(services.secrets)
    return services


def _report_unopened(error: BaseException, show_dialog: bool) -> None:
    """Say why the data could not be opened: on stderr and (normally) in a dialog. Not in the log:
    the log lives in the data folder that could not be opened."""
    from .core.db.engine import CorruptDatabaseError

    if isinstance(error, CorruptDatabaseError):
        backups = "\n".join(str(b) for b in error.backups[:3]) or "(none yet)"
        text = f"{error}\n\nTo recover, quit and copy a backup over the damaged file:\n{backups}"
    else:
        from .core import paths

        text = (
            f"Dataelan could not open its data folder {paths.data_dir_location()}:\n{type(error).__name__}: {error}\n\n"
            "Nothing was changed. Check that the folder is writable and the disk has room, or set "
            "DATAELAN_HOME to another folder."
        )
    print(f"error: {text}", file=sys.stderr, flush=True)
    if show_dialog:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "Dataelan cannot open its database", text)


def _app_icon():
    """The window's icon from resources/icons, in the sizes a title bar or task bar shows (X11
    receives every size as pixels; the desktop entry's icon covers the large ones)."""
    from PySide6.QtGui import QIcon

    from .core.paths import resources_dir

    icon = QIcon()
    for size in (16, 24, 32, 48, 64):
        icon.addFile(str(resources_dir() / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"))
    return icon


def open_in_window(window, request: OpenRequest) -> None:
    """Show what `dataelan FILE.gguf` or a dataelan:// link asked for; the services are attached."""
    from pathlib import Path

    if request.kind == "model":
        window.use_local_model(Path(request.target))
    elif request.kind == "conversation":
        window.open_conversation(request.target)
    elif request.kind == "import":
        window.transfer.import_file(Path(request.target))
    else:
        raise ValueError(f"cannot open {request.kind!r}")


def run_gui(argv: list[str] | None = None, open_request: OpenRequest | None = None) -> int:
    """Show the window first, then load the services off the GUI thread and attach them.

    Only Qt and the window's own modules are imported before the first paint; SQLAlchemy,
    the migrations and the keyring (about 0.25 s) load on a worker while the window is idle.
    ``open_request`` (a .gguf file or a dataelan:// link from the command line) is shown once
    the services are attached.
    """
    started = time.perf_counter()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Dataelan Desktop")
    app.setOrganizationName("Dataelan")
    app.setDesktopFileName(APP_ID)
    os.environ.setdefault("QT_API", "pyside6")  # qasync would otherwise probe PyQt5/6 and PySide2 first
    import qasync

    loop = qasync.QEventLoop(app)
    from concurrent.futures import ThreadPoolExecutor

    # plain threads for asyncio.to_thread (SDK imports, keyring): no QThread may outlive the app
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="dataelan-worker"))
    asyncio.set_event_loop(loop)

    benchmark = bool(os.environ.get("DATAELAN_EXIT_WHEN_IDLE"))  # start-up benchmark: report, then quit
    from .ui.single_instance import InstanceServer, hand_over

    if not benchmark and hand_over(open_request):
        print("Dataelan is already running on this data folder: its window shows what was asked.", flush=True)
        return 0

    from .ui.main.window import MainWindow

    window = MainWindow(None)
    window.show()
    instance = InstanceServer(window)
    if not benchmark:
        instance.listen()

    def elapsed() -> str:
        return f"{time.perf_counter() - started:.4f}"

    painted = asyncio.Event()

    def first_paint_done() -> None:
        if benchmark:
            print(f"window-shown-idle {elapsed()} rss-kb {resident_kb()}", flush=True)
        app.setWindowIcon(_app_icon())  # reading the PNGs takes 10-20 ms: not before the first paint
        painted.set()

    QTimer.singleShot(0, first_paint_done)

    services = None
    opening: asyncio.Future | None = None
    waiting: list[OpenRequest] = []  # handed over by another start before the services were attached

    def open_handed_over(request: OpenRequest) -> None:
        try:
            open_in_window(window, request)
        except Exception as error:  # a link to a conversation deleted meanwhile, a file gone
            window.say(f"Could not open what was asked: {error}", 8000)

    def handed_over(request: OpenRequest | None) -> None:
        if window.isMinimized():
            window.showNormal()
        window.raise_()
        window.activateWindow()
        if request is None:
            return
        if services is None:
            waiting.append(request)
        else:
            open_handed_over(request)

    instance.requested.connect(handed_over)
    status = 0
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)

    async def attach() -> None:
        nonlocal services, status, opening
        # the worker starts once the window has painted: started earlier, its imports would take
        # the GIL from the GUI thread while the window is being built
        await painted.wait()
        opening = loop.run_in_executor(None, _open_services)
        try:
            services = await opening
        except Exception as error:  # a damaged database, a folder that cannot be written, a full disk…
            _report_unopened(error, show_dialog=not benchmark)
            status = 1
            app.quit()
            return
        services.bus.bind_loop(loop)
        window.attach_services(services)
        if open_request is not None:
            open_in_window(window, open_request)
        for request in waiting:
            open_handed_over(request)
        if benchmark:
            await window.wait_until_listed()
            print(f"conversations-listed {elapsed()} rss-kb {resident_kb()}", flush=True)
            app.quit()

    with loop:
        attaching = loop.create_task(attach())
        loop.run_until_complete(closing.wait())
        instance.close()  # a start from now on gets a window of its own
        if not attaching.done():
            attaching.cancel()
        if services is not None:
            loop.run_until_complete(services.aclose())
    if (
        services is None
        and opening is not None
        and opening.done()
        and not opening.cancelled()
        and not opening.exception()
    ):
        services = opening.result()  # the window was closed before they were attached
    if services is not None:
        services.close()
    return status
