"""The blind vote: pick the best of any number of columns, call them all equal or all bad, or rank
them. It speaks in column positions (A, B, C…); the Compare tab turns those into models."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget


@dataclass(frozen=True)
class Judgement:
    """``kind`` is "best" (``best`` is the winning position), "rank" (``ranks`` by position,
    1 = best, equal numbers tie), "tie" or "both_bad"."""

    kind: str
    best: int | None = None
    ranks: tuple[int, ...] = ()


def letter(position: int) -> str:
    return chr(65 + position)


class VotePanel(QWidget):
    judged = Signal(object)  # a Judgement

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.pick_row = QHBoxLayout()
        self.rank_row = QHBoxLayout()
        layout.addLayout(self.pick_row)
        layout.addLayout(self.rank_row)
        self.best_buttons: list[QPushButton] = []
        self.rank_boxes: list[QSpinBox] = []
        self.tie_button = QPushButton("All equal")
        self.tie_button.clicked.connect(lambda: self.judged.emit(Judgement("tie")))
        self.bad_button = QPushButton("All bad")
        self.bad_button.clicked.connect(lambda: self.judged.emit(Judgement("both_bad")))
        self.rank_button = QPushButton("Rank…")
        self.rank_button.setCheckable(True)
        self.rank_button.toggled.connect(self._show_ranking)
        self.save_ranking = QPushButton("Save ranking")
        self.save_ranking.clicked.connect(self._ranked)
        self.setVisible(False)

    def ask(self, count: int) -> None:
        """Offer a vote among ``count`` columns."""
        self._clear()
        for position in range(count):
            button = QPushButton(f"{letter(position)} is best")
            button.clicked.connect(lambda _c=False, p=position: self.judged.emit(Judgement("best", best=p)))
            self.pick_row.addWidget(button)
            self.best_buttons.append(button)
        self.tie_button.setText("Tie" if count == 2 else "All equal")
        self.bad_button.setText("Both bad" if count == 2 else "All bad")
        for button in (self.tie_button, self.bad_button, self.rank_button):
            self.pick_row.addWidget(button)
        self.pick_row.addStretch(1)
        self.rank_row.addWidget(QLabel("Rank (1 = best, equal numbers tie):"))
        for position in range(count):
            box = QSpinBox()
            box.setRange(1, count)
            box.setValue(position + 1)
            box.setPrefix(f"{letter(position)}: ")
            self.rank_row.addWidget(box)
            self.rank_boxes.append(box)
        self.rank_row.addWidget(self.save_ranking)
        self.rank_row.addStretch(1)
        self.rank_button.setChecked(False)
        self._show_ranking(False)
        self.setVisible(True)

    def _show_ranking(self, shown: bool) -> None:
        for i in range(self.rank_row.count()):
            widget = self.rank_row.itemAt(i).widget()
            if widget is not None:
                widget.setVisible(shown)

    def _ranked(self) -> None:
        self.judged.emit(Judgement("rank", ranks=tuple(box.value() for box in self.rank_boxes)))

    def _clear(self) -> None:
        for row in (self.pick_row, self.rank_row):
            while row.count():
                widget = row.takeAt(0).widget()
                if widget is not None and widget not in (
                    self.tie_button, self.bad_button, self.rank_button, self.save_ranking
                ):  # fmt: skip
                    widget.deleteLater()
        self.best_buttons.clear()
        self.rank_boxes.clear()
