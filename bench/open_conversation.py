"""Open a 2,000-message conversation in the real window (offscreen) to first paint."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from .harness import Figure, median_of

COUNT = 2_000


def run() -> list[Figure]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="dataelan-bench-"))
    os.environ["DATAELAN_HOME"] = str(home)
    from concurrent.futures import ThreadPoolExecutor

    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from dataelan_desktop.core.db.tables import Message
    from dataelan_desktop.core.services import build_services
    from dataelan_desktop.ui.main.window import MainWindow

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=2))
    asyncio.set_event_loop(loop)
    services = build_services()
    services.bus.bind_loop(loop)
    conversation = services.store.create_conversation(title="Long", model="openai:gpt-4o-mini")

    def fill(s):
        parent = None
        for i in range(COUNT):
            m = Message(conversation_id=conversation.id, parent_id=parent, role="user" if i % 2 == 0 else "assistant",
                        content=f"message {i}: some **Markdown** with `code` and a [link](https://example.org)")  # fmt: skip
            s.add(m)
            s.flush()
            parent = m.id

    services.db.call(fill)
    window = MainWindow(
        services, settings=QSettings(str(home / "s.ini"), QSettings.Format.IniFormat), probe_servers=False
    )
    window.show()

    async def open_once() -> float:
        window.conversation_id = None
        window.title.setText("")
        began = time.perf_counter()
        window.open_conversation(conversation.id)
        while window.title.text() != "Long":
            await asyncio.sleep(0.001)
        window.repaint()  # the first paint of what was built (processEvents here would re-enter the loop)
        return (time.perf_counter() - began) * 1000

    def plain() -> float:
        con = sqlite3.connect(services.db.path)
        began = time.perf_counter()
        con.execute(
            "SELECT id, parent_id, role, content FROM messages WHERE conversation_id = ?", (conversation.id,)
        ).fetchall()
        con.close()
        return (time.perf_counter() - began) * 1000

    loop.run_until_complete(open_once())
    opened = median_of(5, lambda: loop.run_until_complete(open_once()))
    baseline = median_of(5, plain)
    window.close()
    loop.run_until_complete(services.aclose())
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]  # the window's own loads
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)
    services.close()
    return [
        Figure("history: read 2,000 messages with plain sqlite3", baseline, "ms", None, "baseline", True),
        Figure(
            "history: open a 2,000-message conversation", opened, "ms", baseline, "<= 150 ms", opened <= 150
        ),
    ]
