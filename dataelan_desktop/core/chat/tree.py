"""The message tree: branches from edits and regenerations, and which one is shown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


#: the key of the roots in a ``chosen`` map (which child was last shown under each message)
ROOT = ""


def newest_leaf_under(
    start: Message | None,
    children: dict[str | None, list[Message]],
    chosen: Mapping[str, str] | None = None,
) -> Message | None:
    """Follow children down to a leaf: at each message the child last shown there (``chosen``), else the
    newest."""
    node = start
    key = start.id if start else None
    while children.get(key):
        below = children[key]
        pick = (chosen or {}).get(key if key is not None else ROOT)
        node = next((c for c in below if c.id == pick), below[-1])
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


def visible_path(
    messages: Sequence[Message], current_leaf_id: str | None, chosen: Mapping[str, str] | None = None
) -> list[Message]:
    """The branch a conversation shows: its remembered leaf, else the newest one. Below the remembered
    node (a user message switched to, which has replies), the reply last shown there is followed."""
    by_id = {m.id: m for m in messages}
    children = children_map(messages)
    leaf = by_id.get(current_leaf_id) if current_leaf_id else None
    if leaf is not None:
        # the remembered node may have gained children (a reply) since: continue down
        leaf = newest_leaf_under(leaf, children, chosen)
    else:
        leaf = newest_leaf_under(None, children, chosen)
    return path_to(leaf.id if leaf else None, by_id)


def branching_of(message: Message, messages: Sequence[Message]) -> Branching:
    siblings = children_map(messages).get(message.parent_id, [message])
    ids = tuple(m.id for m in siblings)
    return Branching(
        index=ids.index(message.id) + 1 if message.id in ids else 1, count=len(ids), sibling_ids=ids
    )


def chosen_along(leaf_id: str, parents: Mapping[str, str | None]) -> dict[str, str]:
    """For each message on the path to ``leaf_id``, the child of it on that path: what is remembered as
    last shown there (``parents`` maps each message id to its parent's)."""
    chosen: dict[str, str] = {}
    node, seen = leaf_id, set()
    while node in parents and node not in seen:
        seen.add(node)
        parent = parents[node]
        chosen[parent if parent is not None else ROOT] = node
        if parent is None:
            break
        node = parent
    return chosen
