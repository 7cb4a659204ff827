"""The small vocabulary every provider speaks: requests in, typed stream events out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    name: str | None = None  # for tool results: the tool's name
    tool_call_id: str | None = None  # for tool results: the call answered
    #: an assistant turn's tool calls (the ``ToolCall`` events it produced), in order
    tool_calls: tuple[ToolCall, ...] = ()
    #: a tool result that is an error (a denial, bad arguments, a failure): the model is told so
    is_error: bool = False


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call, described by a JSON Schema."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class GenerationParams:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    #: the reply must be JSON matching this JSON Schema (as JSON text: the params stay hashable). A
    #: provider that can constrain its decoding does (llama.cpp: a grammar, so even a small local model
    #: writes valid JSON); the others are asked in the prompt by the caller (a workflow's output_schema)
    json_schema: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the provider's own model id (no "provider:" prefix)
    messages: tuple[ChatMessage, ...]
    system: str | None = None
    params: GenerationParams = GenerationParams()
    tools: tuple[ToolSpec, ...] = ()
    #: with tools: "auto" (the model decides), "required" (it must call one), "none", or a tool's name
    tool_choice: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    provider: str
    display_name: str | None = None
    context_length: int | None = None

    @property
    def ref(self) -> str:
        """The ``provider:id`` string the CLI and the model picker use."""
        return f"{self.provider}:{self.id}"


class StopReason(StrEnum):
    END = "end"  # the model finished its turn
    LENGTH = "length"  # hit max_tokens or the context
    STOP_SEQUENCE = "stop_sequence"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    CANCELLED = "cancelled"
    OTHER = "other"


# --- stream events -------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The provider accepted the request; the response is under way."""

    model: str


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model produced it


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: seconds from the first output token to the last, timed where the tokens were made or first
    #: received (the model process, the network process): arrival times in the app are bunched by
    #: the pipe, and a rate taken from them can exceed anything the model did
    generating_seconds: float | None = None
    #: ``output_tokens`` was counted from the deltas that arrived: the server reported no usage
    estimated: bool = False


@dataclass(frozen=True)
class Finished:
    stop_reason: StopReason


StreamEvent = Started | TextDelta | ReasoningDelta | ToolCall | Usage | Finished
