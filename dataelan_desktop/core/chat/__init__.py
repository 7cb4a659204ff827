"""Projects, conversations, the message tree, and streaming replies into the database."""

from .service import ChatService, Generation
from .store import ChatStore

__all__ = ["ChatService", "ChatStore", "Generation"]
