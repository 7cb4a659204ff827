"""The chat store itself: :class:`ChatStore`, the one writer of the chat tables, composed of one mixin
per concern (projects, conversations, messages and the shown branch, reply writes, imports, remote
changes). It holds the database and the change bus, and publishes what each write changed."""

from __future__ import annotations

from ...changes import ChangeBus, Changes
from ...db import Database
from .conversations import ConversationsMixin
from .imports import ImportsMixin
from .messages import MessagesMixin
from .projects import ProjectsMixin
from .remote import RemoteMixin
from .replies import RepliesMixin


class ChatStore(ProjectsMixin, ConversationsMixin, MessagesMixin, RepliesMixin, ImportsMixin, RemoteMixin):
    """Synchronous data access; every call runs on the database thread (see :meth:`Database.call`).
    Async callers await :meth:`Database.in_thread`; windows go through ``ui/ops``."""

    def __init__(self, db: Database, bus: ChangeBus | None = None):
        self.db = db
        self.bus = bus or ChangeBus()

    def _publish(self, changes: Changes) -> Changes:
        self.bus.publish(changes)
        return changes
