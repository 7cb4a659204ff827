"""OpenAI's chat-completions streaming wire format, scripted for tests.

    server = fake_openai_server()            # started; server.base_url + "/v1" for the SDK
    server.push(openai_stream(["Hel", "lo"]))  # next POST streams these deltas
    server.push(openai_error(429, "slow down", headers={"Retry-After": "1"}))
    server.default = openai_stream(["ok"])   # used when the script is empty

Chunks are ``data: {chat.completion.chunk}\\n\\n`` with ``choices[0].delta``, a final
chunk with ``finish_reason``, a usage chunk with empty ``choices`` (as with
``stream_options.include_usage``), then ``data: [DONE]``.
"""

from __future__ import annotations

import json
from typing import Any

from .sse_server import DROP, STALL, Reply, ScriptedServer, sse

MODELS = ["gpt-4o-mini", "gpt-4o", "o3-mini"]


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "gpt-4o-mini", usage=None) -> bytes:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if usage is not None:
        body["usage"] = usage
    return sse(body)


def openai_chunks(
    pieces: list[str],
    *,
    finish: str = "stop",
    prompt_tokens: int = 7,
    model: str = "gpt-4o-mini",
    reasoning: list[str] = (),
    usage: bool = True,
    done: bool = True,
) -> list[bytes]:
    chunks = [_chunk({"role": "assistant", "content": ""}, model=model)]
    chunks += [_chunk({"reasoning_content": r}, model=model) for r in reasoning]
    chunks += [_chunk({"content": p}, model=model) for p in pieces]
    chunks.append(_chunk({}, finish=finish, model=model))
    if usage:
        chunks.append(
            _chunk(
                {},
                model=model,
                usage={
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(pieces),
                    "total_tokens": prompt_tokens + len(pieces),
                },
            )
        )
    if done:
        chunks.append(b"data: [DONE]\n\n")
    return chunks


def openai_stream(pieces: list[str], *, delay: float = 0.0, first_delay: float = 0.0, **kw) -> Reply:
    """A normal streamed reply: one delta per piece (one piece = one completion token)."""
    return Reply(200, openai_chunks(pieces, **kw), delay=delay, first_delay=first_delay)


def openai_dropped(pieces: list[str], after: int, **kw) -> Reply:
    """Streams ``after`` content deltas, then the connection is cut."""
    chunks = openai_chunks(pieces, **kw)
    return Reply(200, [*chunks[: 1 + after], DROP])


def openai_stalled(pieces: list[str], after: int) -> Reply:
    chunks = openai_chunks(pieces)
    return Reply(200, [*chunks[: 1 + after], STALL])


def openai_malformed(pieces: list[str], after: int) -> Reply:
    chunks = openai_chunks(pieces)
    return Reply(200, [*chunks[: 1 + after], b"data: {not json at all\n\n", *chunks[1 + after :]])


def openai_error(
    status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": None,
            "code": code,
        }
    }
    return Reply(status, [json.dumps(body).encode()], headers=headers or {}, content_type="application/json")


def _models() -> Reply:
    data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "test"} for m in MODELS]
    return Reply(
        200, [json.dumps({"object": "list", "data": data}).encode()], content_type="application/json"
    )


def fake_openai_server() -> ScriptedServer:
    """Started server answering ``/v1/chat/completions`` (scripted) and ``GET /v1/models``."""
    server = ScriptedServer({"/v1/models": _models})
    return server.start()
