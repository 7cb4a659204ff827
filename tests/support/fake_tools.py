"""Tool calls in both wire formats, scripted for tests, and request checks like the real APIs'.

    server.push(openai_tool_calls([("call_a", "calc", '{"expression": "1+2"}')], split=3))
    server.push(checked_openai(openai_stream(["3"])))   # 400s, as OpenAI does, if a call is unanswered

OpenAI streams a call as fragments of ``delta.tool_calls`` joined by ``index`` (the id and name in
the first, the arguments in pieces after); Anthropic as a ``tool_use`` content block whose input
arrives in ``input_json_delta`` pieces. ``checked_*`` wrap a reply in the validation the real API
does before answering: every tool call in the transcript is answered by a result, in the next
message(s), or the request fails with the API's own 400 wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .fake_anthropic import anthropic_error
from .fake_openai import _chunk, openai_error
from .sse_server import Reply, Request, sse

Call = tuple[str, str, str]  # id, name, arguments (JSON text, possibly broken)


def _pieces(text: str, split: int) -> list[str]:
    """``text`` cut into pieces of ``split`` characters (at least one piece, even when empty)."""
    return [text[i : i + split] for i in range(0, len(text), split)] or [""]


def openai_tool_calls(
    calls: list[Call], *, text: str = "", split: int = 4, model: str = "gpt-4o-mini"
) -> Reply:
    chunks = [_chunk({"role": "assistant", "content": None}, model=model)]
    if text:
        chunks.append(_chunk({"content": text}, model=model))
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(_chunk({"tool_calls": [head]}, model=model))
        for piece in _pieces(arguments, split):
            chunks.append(
                _chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}, model=model)
            )
    chunks.append(_chunk({}, finish="tool_calls", model=model))
    chunks.append(
        _chunk({}, model=model, usage={"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25})
    )
    chunks.append(b"data: [DONE]\n\n")
    return Reply(200, chunks)


def anthropic_tool_calls(
    calls: list[Call], *, text: str = "", split: int = 4, model: str = "claude-3-5-haiku-latest"
) -> Reply:
    message = {
        "id": "msg_tools", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 30, "output_tokens": 1},
    }  # fmt: skip
    events = [sse({"type": "message_start", "message": message}, "message_start")]
    index = 0
    if text:
        start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        events.append(sse(start, "content_block_start"))
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        events.append(sse(delta, "content_block_delta"))
        events.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    for call_id, name, arguments in calls:
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        events.append(
            sse(
                {"type": "content_block_start", "index": index, "content_block": block}, "content_block_start"
            )
        )
        for piece in _pieces(arguments, split):
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(
                sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            )
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 12},
    }
    events.append(sse(end, "message_delta"))
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return Reply(200, events)


# -- what the real APIs check before answering ----------------------------------------------------


def openai_unanswered(body: dict[str, Any]) -> list[str]:
    """Tool call ids of an assistant message not answered by the ``role: tool`` messages right after."""
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        calls = [c["id"] for c in message.get("tool_calls") or []]
        if message.get("role") != "assistant" or not calls:
            continue
        answered = set()
        for after in messages[i + 1 :]:
            if after.get("role") != "tool":
                break
            answered.add(after.get("tool_call_id"))
        missing = [c for c in calls if c not in answered]
        if missing:
            return missing
    return []


def checked_openai(reply: Reply) -> Callable[[Request], Reply]:
    def answer(request: Request) -> Reply:
        missing = openai_unanswered(request.body)
        if missing:
            return openai_error(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(missing)}",
                code=None,
            )
        return reply

    return answer


def anthropic_unanswered(body: dict[str, Any]) -> tuple[int, list[str]] | None:
    """(message index, tool_use ids) of the first assistant turn whose calls the next turn does not answer."""
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        uses = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if not uses:
            continue
        following = messages[i + 1]["content"] if i + 1 < len(messages) else []
        results = [
            b.get("tool_use_id") for b in following if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        missing = [u for u in uses if u not in results]
        if missing:
            return i, missing
    return None


def checked_anthropic(reply: Reply) -> Callable[[Request], Reply]:
    def answer(request: Request) -> Reply:
        found = anthropic_unanswered(request.body)
        if found is not None:
            index, missing = found
            return anthropic_error(
                400,
                "invalid_request_error",
                f"messages.{index + 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            )
        roles = [m.get("role") for m in request.body.get("messages") or []]
        if any(a == b for a, b in zip(roles, roles[1:], strict=False)):
            return anthropic_error(400, "invalid_request_error", "messages: roles must alternate")
        return reply

    return answer


def arguments_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool definitions a request carried, for assertions."""
    return json.loads(json.dumps(body.get("tools") or []))
