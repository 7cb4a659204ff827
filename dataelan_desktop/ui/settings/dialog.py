"""The Settings dialog: its pages (providers, appearance, data) in tabs."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QVBoxLayout

from ...core.services import Services
from ..connections.providers_page import ProvidersPage
from .appearance_page import AppearancePage
from .chat_page import ChatPage
from .data_page import DataPage
from .mcp_page import McpPage


def _sync_page(services: Services):
    from ..sync.page import SyncPage  # sync's edge: loaded when Settings opens

    return SyncPage(services)


class SettingsDialog(QDialog):
    def __init__(self, services: Services, settings: QSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(820, 480)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.providers = ProvidersPage(services)
        self.appearance = AppearancePage(settings)
        self.tabs.addTab(self.providers, "Providers")
        self.tabs.addTab(self.appearance, "Appearance")
        self.chat_page = ChatPage(settings)
        self.tabs.addTab(self.chat_page, "Chat")
        self.tabs.addTab(McpPage(services), "MCP")
        self.tabs.addTab(DataPage(services.db.path), "Data")
        self.tabs.addTab(_sync_page(services), "Sync")
        # the window follows the appearance page's choices at once
        self.theme_changed = self.appearance.theme_changed
        self.enter_sends_changed = self.appearance.enter_sends_changed
        layout.addWidget(self.tabs)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.accept)
        layout.addWidget(close)
