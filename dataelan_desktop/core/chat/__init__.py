"""Conversations: the store (projects, conversations, the message tree) and the streaming service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import ChatService, Generation
    from .store import ChatStore

__all__ = ["ChatService", "ChatStore", "Generation"]


def __getattr__(name: str) -> Any:
    # lazy: the window imports chat.tree before the database layer (SQLAlchemy) is loaded
    if name in ("ChatService", "Generation"):
        from . import service

        return getattr(service, name)
    if name == "ChatStore":
        from .store import ChatStore

        return ChatStore
    raise AttributeError(name)
