"""The message tree: branches from edits and regenerations, and which one is shown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the window imports this module before the database layer is loaded
    from ..db.tables import Message


@dataclass(frozen=True)
class Branching:
    """Where a message sits among its siblings: shown as ``< index/count >``."""

    index: int  # 1-based
    count: int
    sibling_ids: tuple[str, ...]


def children_map(messages: Iterable[Message]) -> dict[str | None, list[Message]]:
    children: dict[str | None, list[Message]] = {}
    for m in sorted(messages, key=lambda m: (m.created_at, m.id)):
        children.setdefault(m.parent_id, []).append(m)
    return children


def newest_leaf_under(start: Message | None, children: dict[str | None, list[Message]]) -> Message | None:
    """Follow the newest child down to a leaf."""
    node = start
    key = start.id if start else None
    while children.get(key):
        node = children[key][-1]
        key = node.id
    return node


def path_to(leaf_id: str | None, by_id: dict[str, Message]) -> list[Message]:
    """Root-to-leaf list of messages ending at ``leaf_id``."""
    path: list[Message] = []
    node = by_id.get(leaf_id) if leaf_id else None
    seen: set[str] = set()
    while node is not None and node.id not in seen:
        seen.add(node.id)
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def visible_path(messages: Sequence[Message], current_leaf_id: str | None) -> list[Message]:
    """The branch a conversation shows: its remembered leaf, else the newest one."""
    by_id = {m.id: m for m in messages}
    children = children_map(messages)
    leaf = by_id.get(current_leaf_id) if current_leaf_id else None
    if leaf is not None:
        # the remembered node may have gained children (a reply) since: continue down
        leaf = newest_leaf_under(leaf, children)
    else:
        leaf = newest_leaf_under(None, children)
    return path_to(leaf.id if leaf else None, by_id)


def branching_of(message: Message, messages: Sequence[Message]) -> Branching:
    siblings = children_map(messages).get(message.parent_id, [message])
    ids = tuple(m.id for m in siblings)
    return Branching(
        index=ids.index(message.id) + 1 if message.id in ids else 1, count=len(ids), sibling_ids=ids
    )
