"""Anthropic's Messages API through the official SDK, streaming."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .base import OutputClock, Provider
from .errors import ProviderError, UnavailableError
from .http_errors import (
    body_message,
    dropped,
    error_for_status,
    malformed,
    stalled,
    transport_failure,
    unexpected,
)
from .tool_refusal import refused_tool
from .types import (
    ChatMessage,
    ChatRequest,
    Finished,
    ModelInfo,
    ReasoningDelta,
    Started,
    StopReason,
    StreamEvent,
    TextDelta,
    ToolCall,
)

DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; this suits any current model

STOP_REASONS = {
    "end_turn": StopReason.END,
    "max_tokens": StopReason.LENGTH,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "tool_use": StopReason.TOOL_CALLS,
    "refusal": StopReason.CONTENT_FILTER,
    "model_context_window_exceeded": StopReason.LENGTH,
}

#: error "type" of an error event or body → the HTTP status it stands for
ERROR_TYPES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicProvider(Provider):
    def __init__(
        self,
        name: str = "anthropic",
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        connect_timeout: float = 10.0,
        stall_timeout: float = 60.0,
    ):
        import anthropic

        self.name = name
        self.stall_timeout = stall_timeout
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,  # our retry layer decides, and never after text was shown
            timeout=anthropic.Timeout(stall_timeout, connect=connect_timeout),
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    def warm_up(self) -> None:
        _ = self._client.messages, self._client.models
        import anthropic.types  # noqa: F401

        super().warm_up()

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        p = request.params
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": anthropic_messages(request.messages),
            "max_tokens": p.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if request.system:
            payload["system"] = request.system
        # Sampling knobs (temperature, top_p) are not parameters of the current Messages API/SDK,
        # so they are not sent: a conversation's temperature applies to the providers that take it.
        if p.stop:
            payload["stop_sequences"] = list(p.stop)
        if request.tools:
            payload["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
            choice = request.tool_choice
            if choice in ("auto", "none"):
                payload["tool_choice"] = {"type": choice}
            elif choice == "required":
                payload["tool_choice"] = {"type": "any"}
            elif choice:
                payload["tool_choice"] = {"type": "tool", "name": choice}
        return payload

    def _map_error(self, error: Exception, model: str | None) -> ProviderError:
        import anthropic

        if isinstance(error, ProviderError):
            return error
        key_hint = f"Check it in Settings → Providers or run `dataelan keys set {self.name}`."
        transport = (
            None
            if isinstance(error, anthropic.APIStatusError)
            else transport_failure(error.__cause__ or error)
        )
        if isinstance(error, anthropic.APITimeoutError) or transport == "stall":
            return stalled(self.name, self.stall_timeout)
        if transport == "drop":
            return dropped(self.name)
        if isinstance(error, anthropic.APIConnectionError) or transport == "connect":
            return UnavailableError(
                f"Could not reach {self.name} at {self.base_url}. Check the network.", provider=self.name
            )
        if isinstance(error, anthropic.APIStatusError):
            body = error.body
            status = error.status_code
            kind = _error_type(body)
            if status == 200 or kind in ("overloaded_error", "rate_limit_error", "api_error"):
                status = ERROR_TYPES.get(kind or "", status if status >= 400 else 500)
            return error_for_status(
                status,
                body_message(body, error.message),
                provider=self.name,
                model=model,
                headers=error.response.headers,
                key_hint=key_hint,
            )
        if isinstance(error, json.JSONDecodeError | ValueError):
            return malformed(self.name, error)
        return unexpected(self.name, error)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = None
        try:
            stream = await self._client.messages.create(**self._payload(request))
            yield Started(model=request.model)
            input_tokens: int | None = None
            output_tokens: int | None = None
            clock = OutputClock()
            stop: StopReason | None = None
            tools: dict[int, dict[str, str]] = {}
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    usage = event.message.usage
                    input_tokens = (
                        (usage.input_tokens or 0)
                        + (getattr(usage, "cache_read_input_tokens", 0) or 0)
                        + (getattr(usage, "cache_creation_input_tokens", 0) or 0)
                    )
                elif kind == "content_block_start" and event.content_block.type == "tool_use":
                    tools[event.index] = {
                        "id": event.content_block.id,
                        "name": event.content_block.name,
                        "arguments": "",
                    }
                elif kind == "content_block_delta":
                    clock.tick()
                    delta = event.delta
                    if delta.type == "text_delta":
                        yield TextDelta(delta.text)
                    elif delta.type == "thinking_delta":
                        yield ReasoningDelta(delta.thinking)
                    elif delta.type == "input_json_delta" and event.index in tools:
                        tools[event.index]["arguments"] += delta.partial_json
                elif kind == "message_delta":
                    if event.delta.stop_reason:
                        stop = STOP_REASONS.get(event.delta.stop_reason, StopReason.OTHER)
                    output_tokens = event.usage.output_tokens
                elif kind == "message_stop":
                    break
            if stop is None:
                raise dropped(self.name)
            for tool in tools.values():
                yield ToolCall(id=tool["id"], name=tool["name"], arguments=tool["arguments"] or "{}")
            yield clock.usage(input_tokens, output_tokens)
            yield Finished(stop_reason=stop)
        except ProviderError:
            raise
        except Exception as error:
            raise refused_tool(self._map_error(error, request.model), request, self.name) from error
        finally:
            if stream is not None:
                await stream.close()

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list(limit=100)
            models = [
                ModelInfo(id=m.id, provider=self.name, display_name=getattr(m, "display_name", None))
                for m in page.data
            ]
        except Exception as error:
            raise self._map_error(error, None) from error
        return models

    async def aclose(self) -> None:
        await self._client.close()


def anthropic_messages(messages: tuple[ChatMessage, ...]) -> list[dict[str, Any]]:
    """The conversation in the Messages API's shape: an assistant turn's tool calls are ``tool_use``
    blocks, and the results answering them are ``tool_result`` blocks (with ``is_error``) at the start
    of the next user turn. Turns of the same role are joined: the API wants them alternating, and
    every ``tool_use`` answered in the very next message."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            role, blocks = "user", [_tool_result(m)]
        elif m.role in ("user", "assistant"):
            role = m.role
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            if m.role == "assistant":
                blocks += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": _input_of(c.arguments)}
                    for c in m.tool_calls
                ]
        else:
            continue  # (the system prompt travels apart)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:
        if not turn["content"]:  # an empty turn is refused; a blank one is not
            turn["content"] = [{"type": "text", "text": "(empty)"}]
        # results first: the API reads the blocks after a tool_use's results as a new question
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
        if len(turn["content"]) == 1 and turn["content"][0]["type"] == "text":
            turn["content"] = turn["content"][0]["text"]  # plain text stays a plain string
    return out


def _tool_result(m: ChatMessage) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
    if m.is_error:
        block["is_error"] = True
    return block


def _input_of(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object the API wants back; arguments the model wrote as broken JSON
    (answered with an error result) are sent back as an empty object."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_type(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return error["type"]
    return None
