"""OpenAI chat completions through the official SDK (also the base of OpenAI-compatible servers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .base import OutputClock, Provider
from .errors import ProviderError, UnavailableError
from .http_errors import body_message, dropped, error_for_status, malformed, stalled, unexpected
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

FINISH_REASONS = {
    "stop": StopReason.END,
    "length": StopReason.LENGTH,
    "tool_calls": StopReason.TOOL_CALLS,
    "function_call": StopReason.TOOL_CALLS,
    "content_filter": StopReason.CONTENT_FILTER,
}


class OpenAIProvider(Provider):
    def __init__(
        self,
        name: str = "openai",
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        connect_timeout: float = 10.0,
        stall_timeout: float = 60.0,
        send_stream_usage: bool = True,
    ):
        import openai

        self.name = name
        self.stall_timeout = stall_timeout
        self.send_stream_usage = send_stream_usage
        # max_retries=0: retrying is our retry layer's job (only before the first token)
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=openai.Timeout(stall_timeout, connect=connect_timeout),
        )
        self.base_url = str(self._client.base_url).rstrip("/")

    def warm_up(self) -> None:
        # the SDK imports its resources and types on first attribute access
        _ = self._client.chat.completions, self._client.models
        import openai.types.chat  # noqa: F401

        super().warm_up()

    # -- helpers subclasses may refine ----------------------------------------------

    def _key_hint(self) -> str:
        return f"Check it in Settings → Providers or run `dataelan keys set {self.name}`."

    def _unreachable(self) -> str:
        return f"Could not reach {self.name} at {self.base_url}. Check the network or the server's address."

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [openai_message(m) for m in request.messages]
        payload: dict[str, Any] = {"model": request.model, "messages": messages, "stream": True}
        if self.send_stream_usage:
            payload["stream_options"] = {"include_usage": True}
        p = request.params
        if p.temperature is not None:
            payload["temperature"] = p.temperature
        if p.max_tokens is not None:
            payload["max_tokens"] = p.max_tokens
        if p.top_p is not None:
            payload["top_p"] = p.top_p
        if p.stop:
            payload["stop"] = list(p.stop)
        if p.seed is not None:
            payload["seed"] = p.seed
        if request.tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
            choice = request.tool_choice
            if choice in ("auto", "required", "none"):
                payload["tool_choice"] = choice
            elif choice:
                payload["tool_choice"] = {"type": "function", "function": {"name": choice}}
        return payload

    def _refused(self, error: ProviderError, request: ChatRequest) -> ProviderError:
        """A refusal said in terms of what was asked: a tool whose schema is refused is named
        (OpenAI-compatible servers refine it further)."""
        return refused_tool(error, request, self.name)

    def _map_error(self, error: Exception, model: str | None) -> ProviderError:
        import openai

        if isinstance(error, ProviderError):
            return error
        if isinstance(error, openai.APITimeoutError):
            return stalled(self.name, self.stall_timeout)
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__
            # a body cut short (RemoteProtocolError/ReadError) versus never connecting (ConnectError)
            if cause is not None and type(cause).__name__ in ("RemoteProtocolError", "ReadError"):
                return dropped(self.name)
            return UnavailableError(self._unreachable(), provider=self.name)
        if isinstance(error, openai.APIStatusError):
            detail = body_message(error.body, error.message)
            return error_for_status(
                error.status_code,
                detail,
                provider=self.name,
                model=model,
                headers=error.response.headers,
                key_hint=self._key_hint(),
            )
        if isinstance(error, openai.APIError):  # an error event inside the stream
            return error_for_status(
                _status_from_body(error.body),
                body_message(error.body, error.message),
                provider=self.name,
                model=model,
            )
        if isinstance(error, json.JSONDecodeError | ValueError):
            return malformed(self.name, error)
        return unexpected(self.name, error)

    # -- the interface -----------------------------------------------------------

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = None
        try:
            stream = await self._client.chat.completions.create(**self._payload(request))
            yield Started(model=request.model)
            finish: StopReason | None = None
            tool_parts: dict[int, dict[str, str]] = {}
            clock = OutputClock()
            input_tokens: int | None = None
            output_tokens: int | None = None
            async for chunk in stream:
                if getattr(chunk, "usage", None) is not None:
                    input_tokens = chunk.usage.prompt_tokens
                    output_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is not None:
                        reasoning = _reasoning_of(delta)
                        if reasoning or delta.content or delta.tool_calls:
                            clock.tick()
                        if reasoning:
                            yield ReasoningDelta(reasoning)
                        if delta.content:
                            yield TextDelta(delta.content)
                        for call in delta.tool_calls or []:
                            part = tool_parts.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                            if call.id:
                                part["id"] = call.id
                            if call.function is not None:
                                name = call.function.name or ""
                                # OpenAI names a call in its first fragment; llama-cpp-python's server
                                # repeats the name in every fragment: a repeat is not more name
                                if name != part["name"]:
                                    part["name"] += name
                                part["arguments"] += call.function.arguments or ""
                    if choice.finish_reason:
                        finish = FINISH_REASONS.get(choice.finish_reason, StopReason.OTHER)
            if finish is None:
                # the body ended without a finish reason: the server or the network cut it short
                raise dropped(self.name)
            for index, part in sorted(tool_parts.items()):
                # (some OpenAI-compatible servers send no id: one is made so the result can answer it)
                call_id = part["id"] or f"call_{index}"
                yield ToolCall(id=call_id, name=part["name"], arguments=part["arguments"] or "{}")
            # usage was asked for (stream_options); llama.cpp's server and others send none
            yield clock.usage(input_tokens, output_tokens)
            yield Finished(stop_reason=finish)
        except ProviderError:
            raise
        except Exception as error:  # SDK and transport failures become typed errors
            raise self._refused(self._map_error(error, request.model), request) from error
        finally:
            if stream is not None:
                await stream.close()  # releases the connection, also when the caller stops early

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list()
            models = (
                [ModelInfo(id=m.id, provider=self.name) async for m in page]
                if hasattr(page, "__aiter__")
                else [ModelInfo(id=m.id, provider=self.name) for m in page.data]
            )
        except Exception as error:
            raise self._map_error(error, None) from error
        return sorted(models, key=lambda m: m.id)

    async def aclose(self) -> None:
        await self._client.close()


def openai_message(m: ChatMessage) -> dict[str, Any]:
    """One message in chat completions' shape: an assistant turn carries its ``tool_calls``, a tool
    result is a ``role: tool`` message answering its call (the API has no error flag: it is said)."""
    if m.role == "tool":
        content = m.content
        if m.is_error and not content.lower().startswith("error"):
            content = f"Error: {content}"
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": content}
    entry: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        # (content stays a string, "" when the turn only called tools: OpenAI takes it, and
        # llama-cpp-python's server refuses the null OpenAI also allows)
        entry["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for c in m.tool_calls
        ]
    return entry


def _reasoning_of(delta: Any) -> str | None:
    """Reasoning text as llama.cpp's server, vLLM and OpenRouter send it (not in the SDK's types)."""
    extra = getattr(delta, "model_extra", None) or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key) if isinstance(extra, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _status_from_body(body: object) -> int:
    if isinstance(body, dict):
        code = body.get("code") or body.get("status")
        if isinstance(code, int):
            return code
        if body.get("type") in ("overloaded_error",):
            return 529
    return 500
