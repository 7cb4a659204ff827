"""What an MCP tool returned, as the text a model reads.

Text blocks are kept as they are; an image, audio or binary resource becomes a short note (a
model that reads text only cannot use the bytes, and they would fill its context); structured
content is shown as JSON when the server sent no text beside it (servers are asked to send both).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def _size(data: str) -> str:
    try:
        count = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        count = len(data)
    return f"{count:,} bytes"


def render_block(block: Any) -> str:
    kind = getattr(block, "type", None)
    if kind == "text":
        return block.text
    if kind in ("image", "audio"):
        return f"[{kind}: {block.mime_type}, {_size(block.data)}]"
    if kind == "resource_link":
        title = getattr(block, "title", None) or block.name
        return f"[resource link: {title} <{block.uri}>]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return f"[resource {resource.uri}]\n{text}"
        mime = getattr(resource, "mime_type", None) or "binary"
        return f"[resource {resource.uri}: {mime}, {_size(getattr(resource, 'blob', ''))}]"
    return f"[{kind or 'unknown'} content]"


def render_result(content: list[Any], structured: Any = None) -> str:
    parts = [render_block(b) for b in content]
    if structured is not None and not any(getattr(b, "type", None) == "text" for b in content):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    return "\n".join(p for p in parts if p)
