"""Exports: readable Markdown of what is shown, or the app's own JSON with every branch.

Exports carry conversations only: no provider settings and never a key.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from ..chat.attachments import read_stored
from ..chat.store import ChatStore
from ..db.tables import Conversation, Message

FORMAT_NAME = "dataelan"
FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_record(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "parent_id": m.parent_id,
        "role": m.role,
        "content": m.content,
        "status": m.status,
        "model": m.model,
        "error": m.error,
        "stop_reason": m.stop_reason,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "ttft_ms": m.ttft_ms,
        "duration_ms": m.duration_ms,
        "attachments": [_attachment_record(a) for a in m.attachments or []],
        "created_at": _iso(m.created_at),
        "tool": m.tool,  # an agent's tool calls, or the call a tool result answers
    }


def _attachment_record(entry: dict[str, Any]) -> dict[str, Any]:
    """A text file as kept; an image with its bytes (base64), so the export stands on its own and
    imports again with its pictures. An image whose file is gone is exported without ``data``."""
    if entry.get("kind") != "image":
        return dict(entry)
    record = {"kind": "image", "name": entry.get("name"), "mime": entry.get("mime")}
    data = read_stored(entry.get("file") or "")
    if data is not None:
        record["data"] = base64.b64encode(data).decode("ascii")
    return record


def conversation_record(store: ChatStore, conversation: Conversation) -> dict[str, Any]:
    messages = store.messages(conversation.id)
    return {
        "id": conversation.id,
        "title": conversation.title,
        "system_prompt": conversation.system_prompt,
        "model": conversation.model,
        "current_leaf_id": conversation.current_leaf_id,
        "pinned": conversation.pinned,
        "archived": conversation.archived,
        "created_at": _iso(conversation.created_at),
        "updated_at": _iso(conversation.updated_at),
        "messages": [message_record(m) for m in messages],
    }


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _markdown(store: ChatStore, conversation: Conversation) -> str:
    lines = [f"# {conversation.title}", ""]
    if conversation.system_prompt:
        lines += [f"> System: {conversation.system_prompt}", ""]
    for m in store.visible_messages(conversation.id):
        if m.role == "tool":  # an agent's tool call and what it returned
            tool = m.tool or {}
            said = "error" if tool.get("is_error") else "result"
            lines += [
                f"**Tool {tool.get('name', '?')}** `{tool.get('arguments', '')}` — {said}:",
                "",
                "```",
                m.content,
                "```",
                "",
            ]
            continue
        who = "You" if m.role == "user" else f"Assistant ({m.model})" if m.model else m.role.capitalize()
        status = "" if m.status == "complete" else f" — *{m.status}{': ' + m.error if m.error else ''}*"
        lines += [f"## {who}{status}", ""]
        for a in m.attachments or []:
            what = "Image" if a.get("kind") == "image" else "Attached"
            lines += [f"*{what}: {a.get('name', 'file')}*", ""]
        lines += [m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


def export_conversation(store: ChatStore, conversation_id: str, fmt: str) -> str:
    conversation = store.conversation(conversation_id)
    if fmt == "md":
        return _markdown(store, conversation)
    if fmt == "json":
        return _json(
            {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "conversations": [conversation_record(store, conversation)],
            }
        )
    raise ValueError(f"Unknown export format '{fmt}': use md or json.")


def export_project(store: ChatStore, project_id: str, fmt: str) -> str:
    project = store.project(project_id)
    conversations = store.conversations(project_id, include_archived=True)
    if fmt == "md":
        parts = [f"# Project: {project.name}\n"]
        if project.instructions:
            parts.append(f"> Instructions: {project.instructions}\n")
        parts += ["#" + _markdown(store, c) for c in conversations]  # conversation titles become ##
        return "\n".join(parts)
    if fmt == "json":
        return _json(
            {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "project": {
                    "id": project.id,
                    "name": project.name,
                    "instructions": project.instructions,
                    "default_model": project.default_model,
                },
                "conversations": [conversation_record(store, c) for c in conversations],
            }
        )
    raise ValueError(f"Unknown export format '{fmt}': use md or json.")
