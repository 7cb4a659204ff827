"""What the main window offers each feature it hosts: passed to them, never reached for globally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

if TYPE_CHECKING:
    from ...core.services import Services


@dataclass(frozen=True)
class Shell:
    services: Services
    window: QMainWindow  # the features' parent, and the parent of their dialogs
    settings: QSettings  # this device's settings: layout, last conversation, choices
    say: Callable[[str, int], None]  # a message in the status bar, for so many milliseconds
    offer_undo: Callable[[str, Callable[[], object]], None]  # an Undo button; the callable runs as a change
    current_project: Callable[[], str]  # the project selected in the sidebar ("" for none)
