"""Anthropic's Messages streaming wire format, scripted for tests.

    server = fake_anthropic_server()              # server.base_url for the SDK
    server.push(anthropic_stream(["Hel", "lo"]))  # next POST /v1/messages
    server.push(anthropic_error(529, "overloaded_error", "Overloaded"))

Events as the API sends them: ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta`` (``text_delta`` / ``thinking_delta``), ``content_block_stop``,
``message_delta`` (stop reason and output usage), ``message_stop``; ``event: error``
for failures that happen after the 200 response.
"""

from __future__ import annotations

import json

from .sse_server import DROP, STALL, Reply, ScriptedServer, sse

MODELS = ["claude-3-5-haiku-latest", "claude-sonnet-4-5"]


def anthropic_events(
    pieces: list[str],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 9,
    model: str = "claude-3-5-haiku-latest",
    thinking: list[str] = (),
) -> list[bytes]:
    message = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    events = [sse({"type": "message_start", "message": message}, "message_start")]
    index = 0
    if thinking:
        events.append(
            sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": ""},
                },
                "content_block_start",
            )
        )
        for t in thinking:
            events.append(
                sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "thinking_delta", "thinking": t},
                    },
                    "content_block_delta",
                )
            )
        events.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    events.append(
        sse(
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        )
    )
    events.append(sse({"type": "ping"}, "ping"))
    for piece in pieces:
        events.append(
            sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
                "content_block_delta",
            )
        )
    events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    events.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": len(pieces)},
            },
            "message_delta",
        )
    )
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return events


def _head(events: list[bytes], after: int) -> list[bytes]:
    """The events up to and including the ``after``-th text delta."""
    seen, out = 0, []
    for event in events:
        out.append(event)
        if b"text_delta" in event:
            seen += 1
            if seen == after:
                break
    return out


def anthropic_stream(pieces: list[str], *, delay: float = 0.0, first_delay: float = 0.0, **kw) -> Reply:
    return Reply(200, anthropic_events(pieces, **kw), delay=delay, first_delay=first_delay)


def anthropic_dropped(pieces: list[str], after: int) -> Reply:
    return Reply(200, [*_head(anthropic_events(pieces), after), DROP])


def anthropic_stalled(pieces: list[str], after: int) -> Reply:
    return Reply(200, [*_head(anthropic_events(pieces), after), STALL])


def anthropic_malformed(pieces: list[str], after: int) -> Reply:
    events = anthropic_events(pieces)
    head = _head(events, after)
    return Reply(200, [*head, b"event: content_block_delta\ndata: {broken\n\n", *events[len(head) :]])


def anthropic_error_event(
    pieces: list[str], after: int, error_type: str = "overloaded_error", message: str = "Overloaded"
) -> Reply:
    """A 200 stream that fails part-way with ``event: error`` (how overload shows up mid-stream)."""
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return Reply(200, [*_head(anthropic_events(pieces), after), sse(body, "error")])


def anthropic_error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_test"}
    return Reply(status, [json.dumps(body).encode()], headers=headers or {}, content_type="application/json")


def _models() -> Reply:
    data = [
        {
            "type": "model",
            "id": m,
            "display_name": m.replace("-", " ").title(),
            "created_at": "2025-01-01T00:00:00Z",
        }
        for m in MODELS
    ]
    body = {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
    return Reply(200, [json.dumps(body).encode()], content_type="application/json")


def fake_anthropic_server() -> ScriptedServer:
    return ScriptedServer({"/v1/models": _models}).start()
