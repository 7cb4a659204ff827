"""The workflow drawn as a graph: a box per step in rows by depth (top to bottom, as the YAML beside it
reads), an arrow per edge, and the box's colour saying the step's status (live during a run)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

BOX_W, BOX_H, GAP_X, GAP_Y = 150.0, 46.0, 24.0, 36.0
#: a wide workflow is shrunk to fit its pane down to this scale (smaller would be unreadable: it scrolls)
MIN_SCALE = 0.45

#: a status's fill colour (the text of the box says the status too: colour is never the only sign)
STATUS_COLOURS = {
    None: "#f1f3f4",
    "pending": "#f1f3f4",
    "running": "#fde293",
    "waiting": "#d7aefb",
    "complete": "#a8dab5",
    "recovered": "#fdd663",
    "skipped": "#e8eaed",
    "failed": "#f6aea9",
    "cancelled": "#dadce0",
    "interrupted": "#dadce0",
}


class WorkflowGraph(QGraphicsView):
    """``show_graph(steps, edges)`` draws; ``set_status(step, status)`` recolours one box."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.boxes: dict[str, object] = {}
        self.labels: dict[str, object] = {}
        self.kinds: dict[str, str] = {}
        self.statuses: dict[str, str | None] = {}
        self.edges: list[tuple[str, str]] = []

    def show_graph(self, steps: list[tuple[str, str]], edges: dict[str, list[str]]) -> None:
        """``steps``: (id, kind) in file order; ``edges``: each step's predecessors."""
        scene = self.scene()
        scene.clear()
        self.boxes.clear()
        self.labels.clear()
        self.kinds = dict(steps)
        self.statuses = {sid: None for sid, _ in steps}
        self.edges = [(dep, sid) for sid, deps in edges.items() for dep in deps]
        depth: dict[str, int] = {}

        def level(sid: str, seen: frozenset[str] = frozenset()) -> int:
            if sid not in depth:
                before = [d for d in edges.get(sid, []) if d not in seen and d in self.kinds]
                depth[sid] = 1 + max((level(d, seen | {sid}) for d in before), default=-1)
            return depth[sid]

        placed: dict[int, int] = {}  # per depth, how many boxes its row holds so far
        where: dict[str, QRectF] = {}
        for sid, _kind in steps:
            row = level(sid)
            column = placed.get(row, 0)
            placed[row] = column + 1
            where[sid] = QRectF(column * (BOX_W + GAP_X), row * (BOX_H + GAP_Y), BOX_W, BOX_H)
        pen = QPen(QColor("#5f6368"), 1.4)
        for dep, sid in self.edges:
            a, b = where[dep], where[sid]
            start, end = QPointF(a.center().x(), a.bottom()), QPointF(b.center().x(), b.top())
            path = QPainterPath(start)
            bend = max(14.0, (end.y() - start.y()) / 2)
            path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
            scene.addPath(path, pen)
            scene.addPolygon(_arrow_head(end), pen, QBrush(QColor("#5f6368")))
        for sid, kind in steps:
            box = scene.addRect(where[sid], QPen(QColor("#80868b")), QBrush(QColor(STATUS_COLOURS[None])))
            box.setToolTip(f"{sid} ({kind})")
            label = scene.addText("")
            label.setTextWidth(BOX_W - 8)
            label.setPos(where[sid].topLeft() + QPointF(4, 2))
            self.boxes[sid], self.labels[sid] = box, label
            self._label(sid)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-10, -10, 10, 10))
        self._fit()

    def _fit(self) -> None:
        """The whole graph in view where it can be: shrunk to the pane (never enlarged), so the last
        steps of a chain are not hidden behind a scroll bar."""
        rect, port = self.sceneRect(), self.viewport().size()
        if rect.isEmpty() or port.isEmpty():
            return
        scale = min(1.0, port.width() / rect.width(), port.height() / rect.height())
        scale = max(MIN_SCALE, scale)
        self.resetTransform()
        self.scale(scale, scale)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _label(self, sid: str) -> None:
        status = self.statuses.get(sid)
        self.labels[sid].setPlainText(f"{sid}\n{self.kinds[sid]}{' · ' + status if status else ''}")

    def set_status(self, sid: str, status: str | None) -> None:
        if sid not in self.boxes:
            return
        self.statuses[sid] = status
        self.boxes[sid].setBrush(QBrush(QColor(STATUS_COLOURS.get(status, STATUS_COLOURS[None]))))
        self._label(sid)

    def reset_statuses(self) -> None:
        for sid in list(self.boxes):
            self.set_status(sid, None)


def _arrow_head(tip: QPointF):
    from PySide6.QtGui import QPolygonF

    return QPolygonF([tip, tip + QPointF(-4, -8), tip + QPointF(4, -8)])  # pointing down
