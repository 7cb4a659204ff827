"""The Leaderboard tab: ratings from blind votes, overall or in one category, with their uncertainty."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QListWidget, QVBoxLayout, QWidget

from ...core.tester import history
from ...core.tester.ratings import leaderboard
from .. import ops

if TYPE_CHECKING:
    from ...core.services import Services
    from ...core.tester.ratings import Vote


class LeaderboardTab(QWidget):
    def __init__(self, services: Services, parent=None):
        super().__init__(parent)
        self.services = services
        self._votes: list[Vote] = []  # what the standings show, read when the tab opens
        layout = QVBoxLayout(self)
        self.category = QComboBox()
        self.category.currentIndexChanged.connect(lambda _i: self._show())
        layout.addWidget(self.category)
        self.board = QListWidget()
        layout.addWidget(self.board, 1)

    def refresh(self) -> ops.Op:
        """Read the votes once; they fill both the category list and the standings."""

        def show(votes: list[Vote]) -> None:
            self._votes = votes
            self._fill_categories()
            self._show()

        return ops.query(self, "votes", partial(history.votes, self.services.db), on_done=show)

    def _fill_categories(self) -> None:
        categories = sorted({v.category for v in self._votes if v.category})
        current = self.category.currentData()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItem("All categories", None)
        for category in categories:
            self.category.addItem(category, category)
        index = self.category.findData(current)
        self.category.setCurrentIndex(max(index, 0))
        self.category.blockSignals(False)

    def _show(self) -> None:
        self.board.clear()
        standings = leaderboard(self._votes, category=self.category.currentData())
        if not standings:
            self.board.addItem("No votes yet: run a blind comparison and vote.")
        for rank, s in enumerate(standings, 1):
            self.board.addItem(f"{rank}. {s.model}   {s.rating:.0f}  ({s.interval()})   {s.votes} votes")
