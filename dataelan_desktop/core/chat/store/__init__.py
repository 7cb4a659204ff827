"""Projects, conversations and messages: the one writer of their tables, and their reads.

Every insert, update and delete of ``projects``, ``conversations`` and ``messages`` happens
here, and each publishes what changed. Reads return plain frozen views, never ORM rows, so
that any thread or widget may hold them. One module per concern; callers import from here.
"""

from ..views import (  # noqa: F401 - the store's views, imported from here by callers
    MESSAGE_COLUMNS,
    TITLE_LENGTH,
    ConversationSummary,
    ConversationView,
    NotFoundError,
    ProjectView,
    ShownConversation,
    ShownMessage,
    StoredMessage,
    automatic_title,
)
from .branches import chosen_children_in, show_in, shown_leaf_in, visible_in  # noqa: F401
from .chat_store import ChatStore  # noqa: F401
from .recovery import mark_interrupted  # noqa: F401
from .rows import _add, _get  # noqa: F401
