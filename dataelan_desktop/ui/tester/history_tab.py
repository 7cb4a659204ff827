"""The History tab: saved comparisons and batches, newest first; activating one reopens it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ...core.tester import history
from .. import ops

if TYPE_CHECKING:
    from ...core.services import Services
    from ...core.tester.history import RunView

RUN_ID = Qt.ItemDataRole.UserRole


class HistoryTab(QListWidget):
    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services

    def refresh(self) -> ops.Op:
        """Fill the list once the runs are read (await the op to know when)."""
        return ops.query(self, "runs", partial(history.runs, self.services.db), on_done=self._show)

    def _show(self, runs: list[RunView]) -> None:
        self.clear()
        for run in runs:
            if run.kind == "batch":
                models, prompts = run.settings.get("models", []), run.settings.get("prompts", [])
                total = len(models) * len(prompts)
                label = (f"{run.created_at:%Y-%m-%d %H:%M}  Batch · {len(prompts)} prompts × {len(models)} models · "
                         f"{len(run.columns)}/{total} done  —  {run.prompt}")  # fmt: skip
            else:
                template = f"  [{run.settings['template']}]" if run.settings.get("template") else ""
                label = (f"{run.created_at:%Y-%m-%d %H:%M}  {run.prompt.strip()[:50]}{template}  —  "
                         + ", ".join(c["model"] for c in run.columns))  # fmt: skip
            item = QListWidgetItem(label)
            item.setData(RUN_ID, run.id)
            self.addItem(item)

    @staticmethod
    def run_id(item: QListWidgetItem) -> str:
        return item.data(RUN_ID)
