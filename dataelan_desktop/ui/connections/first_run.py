"""First run: with no provider and no conversation, the welcome panel instead of an empty chat; local
servers looked for once; a found one connected in one click."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QStackedWidget

from .. import ops
from .welcome import WelcomePanel

if TYPE_CHECKING:
    from ...core.connections.discovery import FoundServer
    from ..chat.pane import ConversationPane
    from ..main.shell import Shell
    from ..sidebar.sidebar import Sidebar


class FirstRun(QObject):
    def __init__(
        self,
        shell: Shell,
        welcome: WelcomePanel,
        center: QStackedWidget,
        pane: ConversationPane,
        sidebar: Sidebar,
        new_provider: Callable[[], None],
        probe_servers: bool,
    ):
        super().__init__(shell.window)
        self.shell = shell
        self.services = shell.services
        self.welcome = welcome
        self.center = center
        self.pane = pane
        self.sidebar = sidebar
        self.new_provider = new_provider
        self.probe_servers = probe_servers
        self._probed = False
        welcome.connect_server_requested.connect(self.connect_server)

    def update(self) -> None:
        """Show the welcome panel while nothing is configured and nothing was said yet."""
        registry, secrets = self.services.registry, self.services.secrets

        def anything_configured() -> bool:  # the keyring may wait for an unlock prompt
            return bool(registry.configs()) or any(secrets.get(n) for n in ("openai", "anthropic"))

        ops.query(self, "configured", anything_configured, on_done=self._show_welcome_if)

    def _show_welcome_if(self, has_provider: bool) -> None:
        nothing_yet = self.pane.conversation_id is None and not self.sidebar.conversation_items()
        show = nothing_yet and not has_provider
        self.center.setCurrentWidget(self.welcome if show else self.center.widget(0))
        if show and self.probe_servers and not self._probed:
            self._probed = True
            self.probe_local_servers()

    def probe_local_servers(self, servers=None) -> ops.Op:
        from ...core.connections.discovery import KNOWN_SERVERS, probe_local_servers

        async def probe() -> list[FoundServer]:
            return await probe_local_servers(servers or KNOWN_SERVERS)

        return ops.query(self, "probe", probe, on_done=self.welcome.show_found)

    def connect_server(self, server: FoundServer | None) -> None:
        if server is None:  # "enter an address": a new provider in Settings
            self.new_provider()
            return

        def saved(_created: bool) -> None:
            if server.models:
                self.pane.composer.set_model(f"{server.name}:{server.models[0]}")
            self.center.setCurrentIndex(0)
            self.shell.say(f"Connected to {server.label}.", 5000)

        connections = self.services.connections
        ops.change(self, partial(connections.save, server.name, base_url=server.base_url), on_done=saved)
