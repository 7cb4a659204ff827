"""Typed ORM models.

Ids are UUID strings and every row carries created/updated timestamps and a
soft-delete marker, so a later sync can merge rows from several machines.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..connections.kinds import ProviderKind  # noqa: F401 - rows and the CLI name a provider's kind from here


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Stamped:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Project(Stamped, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text, default=None)  # the project's system prompt
    default_model: Mapped[str | None] = mapped_column(String(300), default=None)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[str | None] = mapped_column(String(36), default=None)  # its conversations' agent

    conversations: Mapped[list[Conversation]] = relationship(back_populates="project")


class Conversation(Stamped, Base):
    __tablename__ = "conversations"

    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), default=None, index=True)
    title: Mapped[str] = mapped_column(String(300), default="New conversation")
    title_is_automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    model: Mapped[str | None] = mapped_column(String(300), default=None)  # "provider:id"
    # which branch is shown is this device's view, not the conversation's: see ConversationViewState
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # temperature, max tokens...
    agent_id: Mapped[str | None] = mapped_column(String(36), default=None)  # the agent answering here
    #: when its newest message was written (derived by ChatStore with every message, never synced):
    #: lists order by it, so that renaming, pinning or switching a branch does not move a conversation
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    project: Mapped[Project | None] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.created_at"
    )


class ConversationViewState(Base):
    """Which branch of a conversation this device shows: per-device view state, never synced
    (two devices may show different branches of the same conversation)."""

    __tablename__ = "conversation_views"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    #: the leaf of the branch that is shown; no row (or None) means "the newest leaf"
    current_leaf_id: Mapped[str | None] = mapped_column(String(36), default=None)
    #: under each message (or "" for the roots) the child last shown there: switching back to a
    #: message shows the reply chosen there before, not the newest
    chosen: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"  # being written by a live process (see ``stream_owner``)
    STOPPED = "stopped"  # the person stopped it; text kept
    INTERRUPTED = "interrupted"  # the process died while streaming; text kept
    FAILED = "failed"  # the provider failed; ``error`` says why; partial text kept


class Message(Stamped, Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), default=None, index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant | system | tool
    content: Mapped[str] = mapped_column(Text, default="")
    reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.COMPLETE)
    model: Mapped[str | None] = mapped_column(String(300), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    stop_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    ttft_ms: Mapped[float | None] = mapped_column(default=None)
    duration_ms: Mapped[float | None] = mapped_column(default=None)
    #: first to last output token, timed where the tokens were made (the speed shown comes from it)
    generation_ms: Mapped[float | None] = mapped_column(default=None)
    #: output_tokens was counted from what arrived: the server reported no usage
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: attached text files: [{"name": ..., "text": ...}]
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: "host:pid" of the process writing a streaming reply, to tell live from interrupted
    stream_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    #: an assistant turn's tool calls {"calls": [{id, name, arguments}]}; a tool result's call
    #: {"call_id", "name", "source", "is_error", "duration_ms", "approved_by"} (see core/agents)
    tool: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ProviderConfig(Stamped, Base):
    """A configured provider. Keys are *not* here: they live in the keyring."""

    __tablename__ = "provider_configs"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default=ProviderKind.OPENAI_COMPATIBLE)
    base_url: Mapped[str | None] = mapped_column(String(500), default=None)
    api_key_env: Mapped[str | None] = mapped_column(String(100), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ModelProfile(Stamped, Base):
    """Per-model settings: sampling defaults, and for local models the llama.cpp settings."""

    __tablename__ = "model_profiles"

    model_ref: Mapped[str] = mapped_column(String(300), unique=True)  # "provider:id"
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    #: context_length, gpu_layers, threads, batch_size, temperature, top_p, ...,
    #: chat_template (override), system_prompt (default)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LocalModel(Stamped, Base):
    """A GGUF model known to the app (copied into the models folder or referenced)."""

    __tablename__ = "local_models"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)  # first part for split models
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    architecture: Mapped[str | None] = mapped_column(String(64), default=None)
    quantization: Mapped[str | None] = mapped_column(String(32), default=None)
    parameter_count: Mapped[int | None] = mapped_column(Integer, default=None)
    context_length: Mapped[int | None] = mapped_column(Integer, default=None)
    has_chat_template: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(32), default="referenced")  # referenced | copied | downloaded
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TesterRun(Stamped, Base):
    """One comparison (a prompt on several models) with every column's measurements."""

    __tablename__ = "tester_runs"

    kind: Mapped[str] = mapped_column(String(16), default="compare")  # compare | batch
    prompt: Mapped[str] = mapped_column(Text, default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    #: sampling settings and, for blind runs, the shuffled order shown
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: one record per column: model, text, status, error, ttft_ms, total_ms, tokens, cost, stop_reason
    columns: Mapped[list[Any]] = mapped_column(JSON, default=list)


class TesterVote(Stamped, Base):
    __tablename__ = "tester_votes"

    run_id: Mapped[str] = mapped_column(ForeignKey("tester_runs.id"), index=True)
    left_model: Mapped[str] = mapped_column(String(300))
    right_model: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))  # left | right | tie | both_bad
    category: Mapped[str | None] = mapped_column(String(100), default=None)


class PromptTemplate(Stamped, Base):
    """A reusable prompt with ``{{variables}}``; built-ins are seeded from ``resources/templates.json``."""

    __tablename__ = "prompt_templates"

    name: Mapped[str] = mapped_column(
        String(200)
    )  # unique among live rows, case-insensitively (checked in code)
    body: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[str | None] = mapped_column(String(100), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    #: the key in the built-in file; kept after a delete so a removed built-in is never seeded again
    builtin_key: Mapped[str | None] = mapped_column(String(100), default=None, unique=True, index=True)


# feature tables live in their feature's module, on this Base; imported here so the metadata sees them
from ..agents import tables as _agents_tables  # noqa: E402, F401
from ..agents.mcp import tables as _mcp_tables  # noqa: E402, F401
from ..sync import tables as _sync_tables  # noqa: E402, F401 - the sync client's tables join the metadata
from ..workflows import tables as _workflow_tables  # noqa: E402, F401
