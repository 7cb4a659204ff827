"""A saved conversation branch as the messages a provider is sent, tool calls and results included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..providers.types import ChatMessage, ToolCall

NOT_RUN = "Not run: the agent was interrupted before this call was answered."


def tool_message(m: Any) -> ChatMessage:
    """A saved ``tool`` message (a row or a view with ``content`` and ``tool``) as a result."""
    tool = m.tool or {}
    return ChatMessage(
        "tool",
        m.content,
        name=tool.get("name"),
        tool_call_id=tool.get("call_id"),
        is_error=bool(tool.get("is_error")),
    )


def calls_of(m: Any) -> tuple[ToolCall, ...]:
    calls = (m.tool or {}).get("calls") or [] if m.role == "assistant" else []
    return tuple(ToolCall(c["id"], c["name"], c.get("arguments") or "{}") for c in calls)


def answer_every_call(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The transcript with each tool call answered right after its turn: a run that was interrupted
    (the app closed, a crash) left calls without results, and providers refuse such a transcript."""
    out: list[ChatMessage] = []
    waiting: list[ToolCall] = []

    def close_open_calls() -> None:
        for call in waiting:
            out.append(ChatMessage("tool", NOT_RUN, name=call.name, tool_call_id=call.id, is_error=True))
        waiting.clear()

    for m in messages:
        if m.role == "tool":
            match = next((c for c in waiting if c.id == m.tool_call_id), None)
            if match is None:
                continue  # a result whose call is not in this branch: it would be refused
            waiting.remove(match)
            out.append(m)
            continue
        close_open_calls()
        out.append(m)
        waiting.extend(m.tool_calls)
    close_open_calls()
    return out
