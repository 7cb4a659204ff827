"""The model manager: local GGUF models, their settings, load/unload, the catalog and downloads."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.changes import Changes
from ..core.db.tables import LocalModel
from ..core.gguf.catalog import load_catalog
from ..core.gguf.download import Download, DownloadStopped
from ..core.gguf.info import estimate_memory, human_bytes, read_gguf_info
from ..core.gguf.library import ModelLibrary
from ..core.services import Services
from . import tasks

COLUMNS = ("Name", "Architecture", "Parameters", "Quantisation", "Context", "Chat template", "Size", "Memory")


def _memory_needed(path: str, context: int) -> str:
    try:
        return "about " + human_bytes(estimate_memory(read_gguf_info(path), context))
    except Exception:  # a file that moved or was damaged after adding
        return "file missing or damaged"


class ModelManagerWindow(QWidget):
    """Every SQLite call and file read here runs off the GUI thread; answers come back to it."""

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.library = ModelLibrary(services.db, services.bus)
        self.download: Download | None = None
        # the newest table and settings loads; an answer to an older one arrives stale and is dropped
        self._list_seq = 0
        self._settings_seq = 0
        self.setWindowTitle("Models")
        self.resize(1000, 620)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self._build_local_tab()
        self._build_catalog_tab()
        self.refresh()

    # -- local models -----------------------------------------------------------------

    def _build_local_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        top = QHBoxLayout()
        self.add_button = QPushButton("Add file…")
        self.add_button.clicked.connect(self._choose_file)
        self.scan_button = QPushButton("Scan folder…")
        self.scan_button.clicked.connect(self._choose_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_selected)
        self.unload_button = QPushButton("Unload")
        self.unload_button.clicked.connect(self.unload_selected)
        self.context = QSpinBox()
        self.context.setRange(256, 262_144)
        self.context.setSingleStep(1024)
        self.context.setValue(4096)
        self.context.setToolTip("Context length used for the memory estimate")
        self.context.valueChanged.connect(lambda _v: self.refresh())
        for w in (
            self.add_button,
            self.scan_button,
            self.remove_button,
            self.load_button,
            self.unload_button,
        ):
            top.addWidget(w)
        top.addStretch(1)
        self.idle = QSpinBox()
        self.idle.setRange(0, 24 * 60)
        self.idle.setSuffix(" min")
        self.idle.setSpecialValueText("never")
        self.idle.setToolTip("Unload a model after it has been idle this long (its memory is returned)")
        self.idle.setValue(int(self.services.registry.local().idle_unload_seconds // 60))
        self.idle.valueChanged.connect(self.set_idle_minutes)
        top.addWidget(QLabel("Unload when idle"))
        top.addWidget(self.idle)
        top.addWidget(QLabel("Memory at context"))
        top.addWidget(self.context)
        layout.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._show_settings)
        layout.addWidget(self.table, 1)

        form = QFormLayout()
        self.s_context = QSpinBox()
        self.s_context.setRange(0, 262_144)
        self.s_context.setSpecialValueText("model default")
        self.s_threads = QSpinBox()
        self.s_threads.setRange(0, 256)
        self.s_threads.setSpecialValueText("automatic")
        self.s_gpu = QSpinBox()
        self.s_gpu.setRange(0, 999)
        self.s_batch = QSpinBox()
        self.s_batch.setRange(0, 8192)
        self.s_batch.setSpecialValueText("512")
        self.s_temperature = QDoubleSpinBox()
        self.s_temperature.setRange(-0.01, 2.0)
        self.s_temperature.setSingleStep(0.1)
        self.s_temperature.setSpecialValueText("default")
        self.s_system = QLineEdit()
        self.s_system.setPlaceholderText("default system prompt (optional)")
        for label, widget in (("Context length", self.s_context), ("Threads", self.s_threads), ("GPU layers", self.s_gpu),
                              ("Batch size", self.s_batch), ("Temperature", self.s_temperature), ("System prompt", self.s_system)):  # fmt: skip
            form.addRow(label, widget)
        layout.addLayout(form)
        self.save_settings_button = QPushButton("Save settings")
        self.save_settings_button.clicked.connect(self.save_settings)
        layout.addWidget(self.save_settings_button, alignment=Qt.AlignmentFlag.AlignLeft)
        self.tabs.addTab(page, "On this computer")

    def set_idle_minutes(self, minutes: int) -> None:
        # the main window keeps the choice in its settings (it listens to this spin box)
        self.services.registry.local().idle_unload_seconds = minutes * 60

    def detect_servers(self, servers=None) -> asyncio.Task:
        from ..core.connections.discovery import KNOWN_SERVERS, FoundServer, probe_local_servers
        from ..core.connections.store import save_provider

        def add_new(found_servers: list[FoundServer]) -> None:  # on the database thread
            for server in found_servers:
                if self.services.registry.config(server.name) is None:
                    save_provider(self.services.db, server.name, base_url=server.base_url)

        async def probe_and_add() -> list[FoundServer]:
            found_servers = await probe_local_servers(servers or KNOWN_SERVERS)
            await self.services.db.in_thread(add_new, found_servers)
            return found_servers

        def found(servers: list[FoundServer]) -> None:
            self.services.registry.invalidate()
            self.services.bus.publish(Changes(providers=True))
            names = ", ".join(f"{s.label} ({len(s.models)} models)" for s in servers)
            self.status.setText(
                f"Added to the model picker: {names}." if servers else "No local server is running."
            )

        return tasks.run(probe_and_add(), on_done=found, parent=self)

    def refresh(self) -> None:
        self._list_seq += 1
        seq, context = self._list_seq, self.context.value()

        async def load() -> list[tuple[LocalModel, str]]:
            rows = await self.services.db.in_thread(self.library.list)
            # the memory estimate reads each file's header: disk work as well
            return await tasks.in_worker(lambda: [(m, _memory_needed(m.path, context)) for m in rows])

        def show(listed: list[tuple[LocalModel, str]]) -> None:
            if seq == self._list_seq:  # a newer refresh (another change, context length) wins
                self._fill_table(listed)

        tasks.run(load(), on_done=show, parent=self)

    def _fill_table(self, listed: list[tuple[LocalModel, str]]) -> None:
        self.table.setRowCount(len(listed))
        for r, (model, memory) in enumerate(listed):
            params = (
                f"{model.parameter_count / 1e9:.2f}B"
                if (model.parameter_count or 0) >= 1e8
                else f"{(model.parameter_count or 0) / 1e6:.2f}M"
            )
            values = (model.name, model.architecture or "-", params, model.quantization or "-", str(model.context_length or "-"),
                      "yes" if model.has_chat_template else "no", human_bytes(model.size_bytes), memory)  # fmt: skip
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def _show_settings(self) -> None:
        name = self.selected_name()
        if not name:
            return
        self._settings_seq += 1
        seq = self._settings_seq

        def show(s: dict) -> None:
            if seq == self._settings_seq and self.selected_name() == name:  # not another model's form
                self._fill_settings(s)

        tasks.run(self.services.db.in_thread(self.library.settings, name), on_done=show, parent=self)

    def _fill_settings(self, s: dict) -> None:
        self.s_context.setValue(int(s.get("context_length") or 0))
        self.s_threads.setValue(int(s.get("threads") or 0))
        self.s_gpu.setValue(int(s.get("gpu_layers") or 0))
        self.s_batch.setValue(int(s.get("batch_size") or 0))
        self.s_temperature.setValue(float(s["temperature"]) if s.get("temperature") is not None else -0.01)
        self.s_system.setText(s.get("system_prompt") or "")

    def save_settings(self) -> None:
        name = self.selected_name()
        if not name:
            self.status.setText("Select a model first.")
            return
        values = {
            "context_length": self.s_context.value() or None,
            "threads": self.s_threads.value() or None,
            "gpu_layers": self.s_gpu.value(),
            "batch_size": self.s_batch.value() or None,
            "temperature": None if self.s_temperature.value() < 0 else round(self.s_temperature.value(), 2),
            "system_prompt": self.s_system.text().strip() or None,
        }
        self._settings_seq += 1  # settings still on their way must not overwrite the ones being saved

        def saved(_merged: dict) -> None:
            self.status.setText(f"Saved settings for {name}; they apply the next time it loads.")

        def failed(error: BaseException) -> None:
            self.status.setText(f"Settings not saved: {tasks.person_message(error)}")

        tasks.run(
            self.services.db.in_thread(self.library.update_settings, name, **values),
            on_done=saved,
            on_error=failed,
        )

    def add_file(self, path: Path) -> asyncio.Task:
        def done(row) -> None:
            self.refresh()
            self.status.setText(f"Added local:{row.name} ({row.architecture}, {row.quantization}).")

        def failed(error: BaseException) -> None:
            self.status.setText(f"Not added: {tasks.person_message(error)}")

        return tasks.run(tasks.in_worker(partial(self.library.add, path)), on_done=done, on_error=failed)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a GGUF model", str(Path.home()), "GGUF models (*.gguf)"
        )
        if path:
            self.add_file(Path(path))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Scan a folder for GGUF models")
        if not folder:
            return

        def done(result) -> None:
            self.refresh()
            skipped = "; ".join(f"{Path(p).name}: {why}" for p, why in result.refused.items())
            self.status.setText(
                f"Added {len(result.added)} model(s)." + (f" Skipped {skipped}" if skipped else "")
            )

        tasks.run(tasks.in_worker(partial(self.library.scan, Path(folder))), on_done=done, parent=self)

    def remove_selected(self) -> None:
        name = self.selected_name()
        if not name:
            return
        self.remove_button.setEnabled(False)  # a second click would try to remove it twice

        def removed(_row: LocalModel) -> None:
            self.remove_button.setEnabled(True)
            self.refresh()
            self.status.setText(f"Removed local:{name} (the file stays where it is).")

        def failed(error: BaseException) -> None:
            self.remove_button.setEnabled(True)
            self.status.setText(f"Not removed: {tasks.person_message(error)}")

        tasks.run(self.services.db.in_thread(self.library.remove, name), on_done=removed, on_error=failed)

    def load_selected(self) -> asyncio.Task | None:
        name = self.selected_name()
        if not name:
            self.status.setText("Select a model to load.")
            return None
        local = self.services.registry.local()

        def done(host) -> None:
            self.status.setText(f"{name} is loaded (model host pid {host.pid}, context {host.n_ctx}).")

        def failed(error: BaseException) -> None:
            self.status.setText(f"Could not load {name}: {tasks.person_message(error)}")

        self.status.setText(f"Loading {name}…")
        return tasks.run(local.load(name, progress=self.status.setText), on_done=done, on_error=failed)

    def unload_selected(self) -> asyncio.Task | None:
        name = self.selected_name()
        if not name:
            return None
        local = self.services.registry.local()
        return tasks.run(
            local.unload(name),
            on_done=lambda n: self.status.setText(
                f"Unloaded {name}; its memory is free." if n else f"{name} was not loaded."
            ),
        )

    # -- catalog and downloads -----------------------------------------------------------

    def _build_catalog_tab(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.catalog = QTableWidget(0, 4)
        self.catalog.setHorizontalHeaderLabels(("Model", "Memory", "Licence", "File"))
        self.catalog.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.catalog.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.entries = load_catalog()
        self.catalog.setRowCount(len(self.entries))
        for r, e in enumerate(self.entries):
            for c, value in enumerate(
                (
                    e.name,
                    f"~{e.memory_gb:g} GB" if e.memory_gb else "-",
                    e.license,
                    f"{e.repo_id}/{e.filename}",
                )
            ):
                self.catalog.setItem(r, c, QTableWidgetItem(value))
        self.catalog.resizeColumnsToContents()
        layout.addWidget(self.catalog, 1)
        row = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.download_selected)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(lambda: self.download and self.download.pause())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.download and self.download.cancel())
        self.progress = QProgressBar()
        for w in (self.download_button, self.pause_button, self.cancel_button):
            row.addWidget(w)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        self.tabs.addTab(page, "Download")

    def download_selected(self) -> asyncio.Task | None:
        rows = self.catalog.selectionModel().selectedRows()
        if not rows:
            self.status.setText("Select a model in the list to download it.")
            return None
        e = self.entries[rows[0].row()]
        return self.start_download(e.repo_id, e.filename, sha256=e.sha256, size=e.size_bytes)

    def start_download(
        self, repo_id: str, filename: str, sha256: str | None = None, size: int | None = None
    ) -> asyncio.Task:
        loop = asyncio.get_event_loop()

        def progress(p) -> None:  # called on the download thread: hop to the GUI thread
            loop.call_soon_threadsafe(self._show_progress, p)

        if (
            self.download is None
            or self.download.filename != filename
            or self.download.state in ("done", "cancelled", "failed")
        ):
            self.download = Download(repo_id, filename, sha256=sha256, size=size, on_progress=progress)
        job = self.download

        async def fetch() -> LocalModel:
            path = await tasks.in_worker(job.run)
            # registering reads the file's header and writes a row: also off the GUI thread
            return await tasks.in_worker(partial(self.library.add, path, origin="downloaded", sha256=sha256))

        def done(row: LocalModel) -> None:
            self.refresh()
            self.services.bus.publish(Changes(local_models=True))
            self.status.setText(f"Downloaded and verified local:{row.name}.")
            self.download_button.setText("Download")

        def failed(error: BaseException) -> None:
            if isinstance(error, DownloadStopped):
                self.status.setText(f"Paused {filename}. Press Resume to continue where it stopped.")
                self.download_button.setText("Resume")
            else:
                self.status.setText(tasks.person_message(error))
                self.download_button.setText("Download")

        self.status.setText(f"Downloading {filename}…")
        return tasks.run(fetch(), on_done=done, on_error=failed)

    def _show_progress(self, p) -> None:
        if p.total:
            self.progress.setMaximum(1000)
            self.progress.setValue(int(1000 * p.done / p.total))
        self.progress.setFormat(f"{p.done / 1e6:.1f} MB · {p.bytes_per_second / 1e6:.1f} MB/s")
