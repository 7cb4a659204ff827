"""What changed: services announce it, views listen and redraw only what concerns them.

Modelled on Anki's ``OpChanges``: a mutation returns (and publishes) a small
description of its effects instead of views polling the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    projects: bool = False
    conversations: frozenset[str] = field(default_factory=frozenset)  # ids whose row changed
    conversation_list: bool = False  # added, removed, moved, renamed, pinned...
    messages: frozenset[str] = field(default_factory=frozenset)  # conversation ids whose messages changed
    providers: bool = False
    local_models: bool = False
    templates: bool = False  # prompt templates added, edited or deleted
    tester: bool = False  # tester runs or votes saved
    workflows: bool = False  # workflow definitions added, edited or deleted
    workflow_runs: frozenset[str] = field(default_factory=frozenset)  # run ids whose record changed
    agents: bool = False  # agent profiles added, edited or deleted
    mcp_servers: bool = False  # MCP server settings or status changed
    sync: bool = False  # sync status changed (signed in/out, last sync, operations waiting)

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            projects=self.projects or other.projects,
            conversations=self.conversations | other.conversations,
            conversation_list=self.conversation_list or other.conversation_list,
            messages=self.messages | other.messages,
            providers=self.providers or other.providers,
            local_models=self.local_models or other.local_models,
            templates=self.templates or other.templates,
            tester=self.tester or other.tester,
            workflows=self.workflows or other.workflows,
            workflow_runs=self.workflow_runs | other.workflow_runs,
            agents=self.agents or other.agents,
            mcp_servers=self.mcp_servers or other.mcp_servers,
            sync=self.sync or other.sync,
        )


Listener = Callable[[Changes], None]


class ChangeBus:
    """Delivers changes to listeners on the thread that owns the bus.

    Services may publish from the database thread; views (Qt widgets) must only be
    touched from the GUI thread, so such publishes hop over through the bound loop.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._owner = threading.get_ident()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop``'s thread from now on (the GUI calls this at start-up)."""
        self._loop = loop
        self._owner = threading.get_ident()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, changes: Changes) -> None:
        if self._loop is not None and threading.get_ident() != self._owner and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, changes)
            return
        self._deliver(changes)

    def _deliver(self, changes: Changes) -> None:
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:  # one broken view must not stop the others
                log.exception("change listener failed")
