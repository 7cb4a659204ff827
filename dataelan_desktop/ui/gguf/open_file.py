"""Opening a GGUF file to chat with: its header is checked off the GUI thread first."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from .. import ops

if TYPE_CHECKING:
    from ...core.gguf.info import GGUFInfo


def choose_model_file(parent: QWidget) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(
        parent, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
    )
    return Path(path) if path else None


def check_model_file(owner: QObject, path: Path, on_usable: Callable[[GGUFInfo], None]) -> ops.Op:
    """``on_usable(info)`` once ``path`` reads as a usable model; else a message says why not."""
    from ...core.gguf.info import validate_gguf

    def refused(failure: ops.Failure) -> None:
        widget = owner if isinstance(owner, QWidget) else None
        QMessageBox.warning(widget, "Not a usable model", failure.text)

    return ops.query(owner, "model file", partial(validate_gguf, path), on_done=on_usable, on_error=refused)
