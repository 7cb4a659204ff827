"""Light and dark appearance, or follow the system."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        return scheme() == Qt.ColorScheme.Dark
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _dark_palette() -> QPalette:
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#1f2124",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#17181a",
        QPalette.ColorRole.AlternateBase: "#26282c",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#2b2d31",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#3d6fd9",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#7aa7ff",
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
        QPalette.ColorRole.ToolTipBase: "#2b2d31",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    return p


def _light_palette() -> QPalette:
    p = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#f4f5f7",
        QPalette.ColorRole.WindowText: "#1d1f23",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f0f2f5",
        QPalette.ColorRole.Text: "#1d1f23",
        QPalette.ColorRole.Button: "#e9ebef",
        QPalette.ColorRole.ButtonText: "#1d1f23",
        QPalette.ColorRole.Highlight: "#2f62d0",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#2457c5",
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
    }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    return p


STYLE = """
QFrame#message[role="user"] { background: palette(alternate-base); border-radius: 8px; }
QFrame#message[role="assistant"] { background: palette(base); border-radius: 8px; }
QLabel#messageHeader { color: palette(placeholder-text); font-size: 11px; }
QLabel#messageStatus[state="failed"] { color: #d9534f; }
QLabel#messageStatus[state="stopped"], QLabel#messageStatus[state="interrupted"] { color: #c98a12; }
QToolButton#messageAction { border: none; padding: 2px 6px; color: palette(link); }
QListWidget#searchResults::item { padding: 6px; }
QLabel#welcomeTitle { font-size: 22px; font-weight: 600; }
QPushButton#welcomeChoice { text-align: left; padding: 12px; font-size: 14px; }
/* the conversation's scroll bar: thin and flat. It repaints on every streaming frame, and Fusion's
   gradient scroll bar (re-rendered as the handle shrinks) cost more than the text itself */
ChatView QScrollBar:vertical { width: 10px; background: transparent; margin: 0; }
ChatView QScrollBar::handle:vertical { background: palette(mid); min-height: 32px; border-radius: 4px;
    margin: 2px; }
ChatView QScrollBar::add-line:vertical, ChatView QScrollBar::sub-line:vertical { height: 0; }
ChatView QScrollBar::add-page:vertical, ChatView QScrollBar::sub-page:vertical { background: none; }
"""


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply ``theme`` ('system', 'light' or 'dark'); returns whether the result is dark."""
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(_dark_palette() if dark else _light_palette())
    app.setStyleSheet(STYLE)
    return dark
