"""Agent profiles: the one writer of the ``agents`` table, and its reads (frozen views)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..changes import ChangeBus, Changes
from ..db import Database
from .loop import Limits, Policy
from .tables import Agent

LIMIT_FIELDS = ("max_steps", "max_cost", "tool_timeout", "total_seconds", "max_result_chars")


class AgentError(ValueError):
    """A profile that cannot be saved or found; the message says why, for a person."""


@dataclass(frozen=True)
class AgentView:
    id: str
    name: str
    model: str | None
    instructions: str | None
    tools: tuple[str, ...]
    policies: dict[str, str] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Agent) -> AgentView:
        return cls(row.id, row.name, row.model, row.instructions, tuple(row.tools or ()),
                   dict(row.policies or {}), dict(row.limits or {}))  # fmt: skip

    @property
    def loop_limits(self) -> Limits:
        return Limits(**{k: v for k, v in self.limits.items() if k in LIMIT_FIELDS and v is not None})


def check_profile(name: str | None, policies: dict[str, Any] | None, limits: dict[str, Any] | None) -> None:
    """Refuse what a person could mistype: an empty name, an unknown rule or limit, a limit below one."""
    if name is not None and not name.strip():
        raise AgentError("An agent needs a name.")
    for tool, rule in (policies or {}).items():
        if rule not in set(Policy):
            raise AgentError(f"The rule for '{tool}' must be always, ask or deny, not '{rule}'.")
    for key, value in (limits or {}).items():
        if key not in LIMIT_FIELDS:
            raise AgentError(f"Unknown limit '{key}'; the limits are {', '.join(LIMIT_FIELDS)}.")
        # (nan passes "> 0" by failing every comparison, and inf never ends a run: both refused)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise AgentError(f"The limit {key} must be a number above zero, not {value!r}.")


class AgentStore:
    def __init__(self, db: Database, bus: ChangeBus | None = None):
        self.db = db
        self.bus = bus or ChangeBus()

    def apply_remote(self, changes: Any) -> Changes:
        """Merge agent profiles pulled from the sync server (core/sync/apply.py decides what to write
        by the merge rules; this store, their one writer, writes it)."""
        from ..sync.apply import remote_writes  # sync's edge: loaded once signed in

        def write(s: Session) -> None:
            for statement, params in remote_writes(s, changes):
                s.execute(statement, params)

        self.db.call(write)
        self.bus.publish(Changes(agents=True))
        return Changes(agents=True)

    def agents(self) -> list[AgentView]:
        def read(s: Session) -> list[AgentView]:
            rows = s.scalars(select(Agent).where(Agent.deleted_at.is_(None)).order_by(func.lower(Agent.name)))
            return [AgentView.of(r) for r in rows]

        return self.db.call(read)

    def agent(self, name_or_id: str) -> AgentView:
        """The live agent with this id or name (names case-insensitively)."""

        def read(s: Session) -> AgentView:
            row = _find(s, name_or_id)
            if row is None:
                names = ", ".join(r.name for r in s.scalars(select(Agent).where(Agent.deleted_at.is_(None))))
                raise AgentError(
                    f"No agent named '{name_or_id}'."
                    + (
                        f" The agents are: {names}."
                        if names
                        else " There are none yet: `dataelan agents add NAME`."
                    )
                )
            return AgentView.of(row)

        return self.db.call(read)

    def agent_for_conversation(self, conversation_id: str) -> AgentView | None:
        """The agent answering in a conversation: its own, else its project's (None: no agent)."""
        from ..db.tables import Conversation

        def read(s: Session) -> AgentView | None:
            conversation = s.get(Conversation, conversation_id)
            if conversation is None:
                return None
            if conversation.agent_id is None:
                return _project_agent(s, conversation.project_id)
            row = _find(s, conversation.agent_id)
            return AgentView.of(row) if row is not None else None

        return self.db.call(read)

    def agent_for_project(self, project_id: str) -> AgentView | None:
        """The agent a project's new conversations answer with (None: no agent)."""
        return self.db.call(lambda s: _project_agent(s, project_id))

    def add(
        self,
        name: str,
        *,
        model: str | None = None,
        instructions: str | None = None,
        tools: list[str] | tuple[str, ...] = (),
        policies: dict[str, str] | None = None,
        limits: dict[str, Any] | None = None,
    ) -> AgentView:
        check_profile(name, policies, limits)

        def write(s: Session) -> AgentView:
            if _find(s, name.strip()) is not None:
                raise AgentError(f"An agent named '{name.strip()}' already exists.")
            row = Agent(name=name.strip(), model=model, instructions=instructions, tools=list(tools),
                        policies=dict(policies or {}), limits=dict(limits or {}))  # fmt: skip
            s.add(row)
            s.flush()
            return AgentView.of(row)

        view = self.db.call(write)
        self.bus.publish(Changes(agents=True))
        return view

    def update(self, agent_id: str, **fields: Any) -> AgentView:
        allowed = {"name", "model", "instructions", "tools", "policies", "limits"}
        unknown = set(fields) - allowed
        if unknown:
            raise AgentError(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
        check_profile(fields.get("name"), fields.get("policies"), fields.get("limits"))

        def write(s: Session) -> AgentView:
            row = _find(s, agent_id)
            if row is None:
                raise AgentError(f"No agent with id {agent_id}.")
            if "name" in fields:
                other = _find(s, fields["name"].strip())
                if other is not None and other.id != row.id:
                    raise AgentError(f"An agent named '{fields['name'].strip()}' already exists.")
                fields["name"] = fields["name"].strip()
            for key, value in fields.items():
                setattr(row, key, list(value) if key == "tools" else value)
            s.flush()
            return AgentView.of(row)

        view = self.db.call(write)
        self.bus.publish(Changes(agents=True))
        return view

    def allow_always(self, agent_id: str, tool: str) -> None:
        """A person's "always allow this tool", kept in the agent's policy for its next runs."""

        def write(s: Session) -> None:
            row = _find(s, agent_id)
            if row is not None:
                row.policies = {**(row.policies or {}), tool: str(Policy.ALWAYS)}

        self.db.call(write)
        self.bus.publish(Changes(agents=True))

    def remove(self, name_or_id: str) -> AgentView:
        def write(s: Session) -> AgentView:
            row = _find(s, name_or_id)
            if row is None:
                raise AgentError(f"No agent named '{name_or_id}'.")
            row.deleted_at = datetime.now(UTC)
            return AgentView.of(row)

        view = self.db.call(write)
        self.bus.publish(Changes(agents=True))
        return view


def _project_agent(s: Session, project_id: str | None) -> AgentView | None:
    """The agent a project's conversations answer with unless they chose their own."""
    from ..db.tables import Project

    project = s.get(Project, project_id) if project_id else None
    row = _find(s, project.agent_id) if project is not None and project.agent_id else None
    return AgentView.of(row) if row is not None else None


def _find(s: Session, name_or_id: str) -> Agent | None:
    alive = Agent.deleted_at.is_(None)
    row = s.scalars(select(Agent).where(alive, Agent.id == name_or_id)).first()
    return row or s.scalars(select(Agent).where(alive, func.lower(Agent.name) == name_or_id.lower())).first()
