"""A server's state as the Settings page and the CLI show it (plain data: no SDK import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..tools import AvailableTool


class ServerState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class ServerStatus:
    """A server's state as the Settings page and the CLI show it."""

    name: str
    state: ServerState = ServerState.STOPPED
    reason: str | None = None  # why it failed, a sentence for a person
    tools: tuple[AvailableTool, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        if self.state is ServerState.FAILED:
            return f"failed: {self.reason}"
        if self.state is ServerState.READY:
            count = len(self.tools)
            return f"ready ({count} tool{'s' if count != 1 else ''})"
        return self.state.value
