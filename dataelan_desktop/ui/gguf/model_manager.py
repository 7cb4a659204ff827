"""The model manager: local GGUF models, their settings, load/unload, the catalog and downloads."""

from __future__ import annotations

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

from ...core.gguf.catalog import load_catalog
from ...core.gguf.download import Download, DownloadError, DownloadStopped, HubUnreachable
from ...core.gguf.info import estimate_memory, human_bytes, read_gguf_info
from ...core.gguf.library import LocalModelView, ModelLibrary
from ...core.services import Services
from .. import ops

COLUMNS = ("Name", "Architecture", "Parameters", "Quantisation", "Context", "Chat template", "Size", "Memory")


def _memory_needed(path: str, context: int) -> str:
    """The estimate at ``context`` tokens, or at the model's own maximum when that is smaller (a
    model that holds 512 tokens never allocates 4,096; the CLI estimates the same way)."""
    try:
        info = read_gguf_info(path)
    except Exception:  # a file that moved or was damaged after adding
        return "file missing or damaged"
    n_ctx = min(context, info.context_length) if info.context_length else context
    estimate = "about " + human_bytes(estimate_memory(info, n_ctx))
    return estimate if n_ctx == context else f"{estimate} (at its maximum, {n_ctx:,} tokens)"


class ModelManagerWindow(QWidget):
    """Every SQLite call and file read here runs off the GUI thread; answers come back to it."""

    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self.library = ModelLibrary(services.db, services.bus)
        self.download: Download | None = None
        self.server_ports: tuple[tuple[str, int], ...] | None = (
            None  # None: the known ports (tests give their own)
        )
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
        self.find_servers_button = QPushButton("Find local servers")
        self.find_servers_button.setToolTip(
            "Look for Ollama, LM Studio and llama.cpp's server on this computer and add their models to the picker"
        )
        self.find_servers_button.clicked.connect(lambda: self.detect_servers(self.server_ports))
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
            self.find_servers_button,
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

    def detect_servers(self, servers=None) -> ops.Op:
        from ...core.connections.discovery import KNOWN_SERVERS, FoundServer, probe_local_servers

        connections = self.services.connections

        async def probe() -> list[FoundServer]:
            return await probe_local_servers(servers or KNOWN_SERVERS)

        self.status.setText("Looking for servers on this computer…")

        def found(servers: list[FoundServer]) -> None:
            names = ", ".join(f"{s.label} ({len(s.models)} models)" for s in servers)
            self.status.setText(
                f"Added to the model picker: {names}." if servers else "No local server is running."
            )

        def add(servers: list[FoundServer]) -> None:
            ops.change(self, partial(connections.add_found, servers), on_done=lambda _added: found(servers))

        return ops.change(self, probe, on_done=add)

    def refresh(self) -> None:
        library, context = self.library, self.context.value()

        def load() -> list[tuple[LocalModelView, str]]:
            # the memory estimate reads each file's header: disk work as well
            return [(m, _memory_needed(m.path, context)) for m in library.list()]

        # a newer refresh (another change, another context length) wins
        ops.query(self, "models", load, on_done=self._fill_table)

    def _fill_table(self, listed: list[tuple[LocalModelView, str]]) -> None:
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

        def show(s: dict) -> None:
            if self.selected_name() == name:  # not another model's form
                self._fill_settings(s)

        ops.query(self, "settings", partial(self.library.settings, name), on_done=show)

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
        ops.supersede(self, "settings")  # settings still on their way must not overwrite the ones being saved

        def saved(_merged: dict) -> None:
            self.status.setText(f"Saved settings for {name}; they apply the next time it loads.")

        def failed(failure: ops.Failure) -> None:
            self.status.setText(f"Settings not saved: {failure}")

        ops.change(
            self, partial(self.library.update_settings, name, **values), on_done=saved, on_error=failed
        )

    def add_file(self, path: Path) -> ops.Op:
        def done(row: LocalModelView) -> None:
            self.refresh()
            self.status.setText(f"Added local:{row.name} ({row.architecture}, {row.quantization}).")

        def failed(failure: ops.Failure) -> None:
            self.status.setText(f"Not added: {failure}")

        return ops.change(self, partial(self.library.add, path), on_done=done, on_error=failed)

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

        ops.change(self, partial(self.library.scan, Path(folder)), on_done=done)

    def remove_selected(self) -> None:
        name = self.selected_name()
        if not name:
            return
        self.remove_button.setEnabled(False)  # a second click would try to remove it twice

        def removed(_row: LocalModelView) -> None:
            self.remove_button.setEnabled(True)
            self.refresh()
            self.status.setText(f"Removed local:{name} (the file stays where it is).")

        def failed(failure: ops.Failure) -> None:
            self.remove_button.setEnabled(True)
            self.status.setText(f"Not removed: {failure}")

        ops.change(self, partial(self.library.remove, name), on_done=removed, on_error=failed)

    def load_selected(self) -> ops.Op | None:
        name = self.selected_name()
        if not name:
            self.status.setText("Select a model to load.")
            return None
        local = self.services.registry.local()

        def done(host) -> None:
            self.status.setText(f"{name} is loaded (model host pid {host.pid}, context {host.n_ctx}).")

        def failed(failure: ops.Failure) -> None:
            self.status.setText(f"Could not load {name}: {failure}")

        async def load(progress: ops.Progress):
            return await local.load(name, progress=progress.report)

        self.status.setText(f"Loading {name}…")
        return ops.change(self, load, on_done=done, on_error=failed, on_progress=self.status.setText)

    def unload_selected(self) -> ops.Op | None:
        name = self.selected_name()
        if not name:
            return None
        local = self.services.registry.local()

        async def unload():
            return await local.unload(name)

        return ops.change(
            self,
            unload,
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

    def download_selected(self) -> ops.Op | None:
        rows = self.catalog.selectionModel().selectedRows()
        job = self.download
        if not rows and job is not None and job.state not in ("done", "cancelled"):
            # Retry / Resume: the download that stopped, from where it stopped
            return self.start_download(
                job.repo_id, job.filename, sha256=job.expected_sha256, size=job.expected_size
            )
        if not rows:
            self.status.setText("Select a model in the list to download it.")
            return None
        e = self.entries[rows[0].row()]
        return self.start_download(e.repo_id, e.filename, sha256=e.sha256, size=e.size_bytes)

    def start_download(
        self, repo_id: str, filename: str, sha256: str | None = None, size: int | None = None
    ) -> ops.Op:
        if (
            self.download is None
            or self.download.filename != filename
            or self.download.state in ("done", "cancelled", "failed")
        ):
            self.download = Download(repo_id, filename, sha256=sha256, size=size)
        job, library = self.download, self.library

        def fetch(progress: ops.Progress) -> LocalModelView:
            job.on_progress = progress.report  # called on the download's thread; shown on the GUI's
            path = job.run()
            # registering reads the file's header and writes a row
            return library.add(path, origin="downloaded", sha256=sha256)

        def done(row: LocalModelView) -> None:
            self.refresh()
            self.status.setText(f"Downloaded and verified local:{row.name}.")
            self.download_button.setText("Download")

        def failed(failure: ops.Failure) -> None:
            if isinstance(failure.error, DownloadStopped):
                self.status.setText(f"Paused {filename}. Press Resume to continue where it stopped.")
                self.download_button.setText("Resume")
            elif isinstance(failure.error, HubUnreachable):  # the same file again, from where it stopped
                self.status.setText(str(failure.error))
                self.download_button.setText("Retry")
            else:  # a download's own errors are already sentences for a person
                self.status.setText(
                    str(failure.error) if isinstance(failure.error, DownloadError) else failure.text
                )
                self.download_button.setText("Download")

        self.status.setText(f"Downloading {filename}…")
        return ops.change(self, fetch, on_done=done, on_error=failed, on_progress=self._show_progress)

    def _show_progress(self, p) -> None:
        if p.total:
            self.progress.setMaximum(1000)
            self.progress.setValue(int(1000 * p.done / p.total))
        self.progress.setFormat(f"{p.done / 1e6:.1f} MB · {p.bytes_per_second / 1e6:.1f} MB/s")
