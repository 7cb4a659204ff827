"""Imports: the app's own JSON and ChatGPT data exports (``conversations.json`` or its .zip).

All or nothing: the file is parsed and checked completely before one transaction
writes it; a malformed file changes nothing. Imported conversations get fresh ids and
remember where they came from, so importing the same file twice is detected.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..chat.store import ChatStore
from ..db.tables import Conversation, Message, MessageStatus, Project, new_id

MAX_IMPORT_BYTES = 512 * 1024 * 1024


class ImportFormatError(ValueError):
    """The file is not something the app can import; nothing was imported."""


@dataclass
class ParsedMessage:
    source_id: str
    parent_source_id: str | None
    role: str
    content: str
    model: str | None = None
    status: str = MessageStatus.COMPLETE
    created_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedConversation:
    source_id: str
    title: str
    messages: list[ParsedMessage]
    current_leaf_source_id: str | None
    created_at: datetime | None = None
    system_prompt: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class ImportResult:
    conversation_ids: list[str]
    format: str
    message_count: int
    skipped_duplicates: int = 0


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        return datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return None


def _check_tree(where: str, messages: list[ParsedMessage]) -> None:
    ids = {m.source_id for m in messages}
    if len(ids) != len(messages):
        raise ImportFormatError(f"{where}: two messages share one id.")
    parents = {m.source_id: m.parent_source_id for m in messages}
    for m in messages:
        if m.parent_source_id is not None and m.parent_source_id not in ids:
            raise ImportFormatError(f"{where}: a message's parent '{m.parent_source_id}' does not exist.")
    for start in parents:  # walking up must reach a root, never loop
        seen, node = set(), start
        while node is not None:
            if node in seen:
                raise ImportFormatError(f"{where}: the messages form a cycle (at '{node}').")
            seen.add(node)
            node = parents.get(node)


# --- ChatGPT ---------------------------------------------------------------------------


def _chatgpt_text(content: Any) -> str | None:
    if not isinstance(content, dict):
        return None
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = content.get("parts") or []
        texts = [p if isinstance(p, str) else p.get("text", "") if isinstance(p, dict) else "" for p in parts]
        return "".join(t for t in texts if t)
    if kind == "code":
        return f"```\n{content.get('text', '')}\n```"
    return None


def parse_chatgpt(data: Any, source: str) -> list[ParsedConversation]:
    if not isinstance(data, list):
        raise ImportFormatError(f"{source}: expected a list of conversations (ChatGPT's conversations.json).")
    conversations = []
    for index, raw in enumerate(data, 1):
        where = f"{source}: conversation {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("mapping"), dict):
            raise ImportFormatError(f"{where} has no 'mapping' of messages.")
        mapping: dict[str, Any] = raw["mapping"]
        nodes: dict[str, dict] = {}
        for key, node in mapping.items():
            if not isinstance(node, dict):
                raise ImportFormatError(f"{where}: node '{key}' is not an object.")
            nodes[str(node.get("id", key))] = node
        # keep only real messages; hidden/system/tool/empty nodes are skipped and
        # their children attached to the nearest kept ancestor, so the tree stays whole
        kept: dict[str, ParsedMessage] = {}

        order = _topological(nodes, where)
        for node_id in order:
            node = nodes[node_id]
            message = node.get("message")
            if not isinstance(message, dict):
                continue
            role = (message.get("author") or {}).get("role")
            metadata = message.get("metadata") or {}
            text = _chatgpt_text(message.get("content"))
            if (
                role not in ("user", "assistant")
                or not text
                or metadata.get("is_visually_hidden_from_conversation")
            ):
                continue
            kept[node_id] = ParsedMessage(
                source_id=node_id,
                parent_source_id=_kept_ancestor(node.get("parent"), kept, nodes),
                role=role,
                content=text,
                model=f"openai:{metadata['model_slug']}"
                if role == "assistant" and metadata.get("model_slug")
                else None,
                created_at=_timestamp(message.get("create_time")),
            )
        current = raw.get("current_node")
        leaf = _kept_ancestor(current, kept, nodes) if isinstance(current, str) and current in nodes else None
        messages = list(kept.values())
        _check_tree(where, messages)
        conversations.append(
            ParsedConversation(
                source_id=f"chatgpt:{raw.get('id') or raw.get('conversation_id') or index}",
                title=str(raw.get("title") or "Imported conversation")[:300],
                messages=messages,
                current_leaf_source_id=leaf,
                created_at=_timestamp(raw.get("create_time")),
            )
        )
    return conversations


def _kept_ancestor(node_id: str | None, kept: dict[str, ParsedMessage], nodes: dict[str, dict]) -> str | None:
    """The nearest ancestor that was kept as a message (the tree was checked for cycles already)."""
    while node_id is not None and node_id not in kept:
        node_id = nodes.get(node_id, {}).get("parent")
    return node_id


def _topological(nodes: dict[str, dict], where: str) -> list[str]:
    """Parents before children (ChatGPT's mapping order is not guaranteed)."""
    for node_id, node in nodes.items():
        parent = node.get("parent")
        if parent is not None and parent not in nodes:
            raise ImportFormatError(
                f"{where}: message '{node_id}' has a parent '{parent}' that does not exist."
            )
    depth: dict[str, int] = {}
    for start in nodes:
        chain, node, seen = [], start, set()
        while node is not None and node not in depth:
            if node in seen:
                raise ImportFormatError(f"{where}: the messages form a cycle (at '{node}').")
            seen.add(node)
            chain.append(node)
            node = nodes[node].get("parent")
        base = depth.get(node, -1) if node is not None else -1
        for n in reversed(chain):
            base += 1
            depth[n] = base
    return sorted(nodes, key=lambda n: depth[n])


# --- the app's own JSON ----------------------------------------------------------------


def parse_dataelan(data: dict, source: str) -> tuple[list[ParsedConversation], dict | None]:
    if data.get("version") != 1:
        raise ImportFormatError(f"{source}: unsupported Dataelan export version {data.get('version')!r}.")
    raw_conversations = data.get("conversations")
    if not isinstance(raw_conversations, list):
        raise ImportFormatError(f"{source}: 'conversations' must be a list.")
    conversations = []
    for index, raw in enumerate(raw_conversations, 1):
        where = f"{source}: conversation {index}"
        if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
            raise ImportFormatError(f"{where} has no list of messages.")
        messages = []
        for m in raw["messages"]:
            if (
                not isinstance(m, dict)
                or not isinstance(m.get("id"), str)
                or m.get("role") not in ("user", "assistant", "system", "tool")
            ):
                raise ImportFormatError(f"{where}: a message lacks an id or a valid role.")
            if not isinstance(m.get("content", ""), str):
                raise ImportFormatError(f"{where}: message '{m['id']}' has content that is not text.")
            status = m.get("status") or MessageStatus.COMPLETE
            if status == MessageStatus.STREAMING:
                status = MessageStatus.INTERRUPTED
            messages.append(
                ParsedMessage(
                    source_id=m["id"],
                    parent_source_id=m.get("parent_id"),
                    role=m["role"],
                    content=m.get("content", ""),
                    model=m.get("model"),
                    status=status,
                    created_at=_timestamp(m.get("created_at")),
                    extra={
                        k: m.get(k)
                        for k in (
                            "error",
                            "stop_reason",
                            "input_tokens",
                            "output_tokens",
                            "ttft_ms",
                            "duration_ms",
                            "attachments",
                        )
                    },
                )
            )
        _check_tree(where, messages)
        conversations.append(
            ParsedConversation(
                source_id=f"dataelan:{raw.get('id') or index}",
                title=str(raw.get("title") or "Imported conversation")[:300],
                messages=messages,
                current_leaf_source_id=raw.get("current_leaf_id"),
                created_at=_timestamp(raw.get("created_at")),
                system_prompt=raw.get("system_prompt"),
                model=raw.get("model"),
            )
        )
    project = data.get("project") if isinstance(data.get("project"), dict) else None
    return conversations, project


# --- reading and writing ---------------------------------------------------------------


def _load(path: Path) -> tuple[Any, str]:
    if not path.exists():
        raise ImportFormatError(f"{path} does not exist.")
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"{path.name} is larger than 512 MB.")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
                if not names:
                    raise ImportFormatError(
                        f"{path.name} is a zip without a conversations.json (not a ChatGPT export)."
                    )
                raw = archive.read(names[0])
                source = f"{path.name}/{names[0]}"
        else:
            raw, source = path.read_bytes(), path.name
    except zipfile.BadZipFile as exc:
        raise ImportFormatError(f"{path.name} is a damaged zip file: {exc}") from exc
    try:
        return json.loads(raw.decode("utf-8-sig")), source
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{source} is not UTF-8 text.") from exc
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from exc


def import_file(store: ChatStore, path: Path | str) -> ImportResult:
    path = Path(path).expanduser()
    data, source = _load(path)
    project_info = None
    if isinstance(data, dict) and data.get("format") == "dataelan":
        parsed, project_info = parse_dataelan(data, source)
        fmt = "dataelan"
    elif isinstance(data, list):
        parsed, fmt = parse_chatgpt(data, source), "chatgpt"
    else:
        raise ImportFormatError(f"{source} is neither a Dataelan export nor a ChatGPT conversations.json.")

    def write(session) -> tuple[list[str], int, int]:
        known = {
            (c.settings or {}).get("import_source")
            for c in session.scalars(select(Conversation).where(Conversation.deleted_at.is_(None)))
        }
        project_id = None
        if project_info and project_info.get("name"):
            project = session.scalars(
                select(Project).where(Project.name == project_info["name"], Project.deleted_at.is_(None))
            ).first()
            if project is None:
                project = Project(name=str(project_info["name"]), instructions=project_info.get("instructions"),
                                  default_model=project_info.get("default_model"))  # fmt: skip
                session.add(project)
                session.flush()
            project_id = project.id
        ids, count, skipped = [], 0, 0
        for conv in parsed:
            if conv.source_id in known:
                skipped += 1
                continue
            conversation = Conversation(
                project_id=project_id, title=conv.title, title_is_automatic=False, system_prompt=conv.system_prompt,
                model=conv.model, settings={"import_source": conv.source_id},
            )  # fmt: skip
            if conv.created_at:
                conversation.created_at = conversation.updated_at = conv.created_at
            session.add(conversation)
            session.flush()
            new_ids = {m.source_id: new_id() for m in conv.messages}
            for m in conv.messages:
                extra = {k: v for k, v in m.extra.items() if v is not None}
                row = Message(
                    id=new_ids[m.source_id], conversation_id=conversation.id,
                    parent_id=new_ids.get(m.parent_source_id) if m.parent_source_id else None,
                    role=m.role, content=m.content, model=m.model, status=m.status, **extra,
                )  # fmt: skip
                if m.created_at:
                    row.created_at = row.updated_at = m.created_at
                session.add(row)
            session.flush()
            conversation.current_leaf_id = (
                new_ids.get(conv.current_leaf_source_id) if conv.current_leaf_source_id else None
            )
            ids.append(conversation.id)
            count += len(conv.messages)
        return ids, count, skipped

    ids, count, skipped = store.db.call(write)  # one transaction: all or nothing
    from ..changes import Changes

    store.bus.publish(Changes(projects=bool(project_info), conversation_list=True))
    return ImportResult(conversation_ids=ids, format=fmt, message_count=count, skipped_duplicates=skipped)
