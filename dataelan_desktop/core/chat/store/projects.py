"""The chat store's projects: creating, reading, changing and (softly) deleting them. A deleted
project takes its conversations with it; undo restores both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...changes import Changes
from ...db import Database
from ...db.tables import Conversation, Project
from ..views import ProjectView
from .listing import _projects_in
from .rows import _add, _alive, _check_fields, _get


class ProjectsMixin:
    """Projects (a part of :class:`ChatStore`)."""

    db: Database
    _publish: Callable[[Changes], Changes]

    def create_project(
        self, name: str, instructions: str | None = None, default_model: str | None = None
    ) -> ProjectView:
        name = name.strip()
        if not name:
            raise ValueError("A project needs a name.")
        project = self.db.call(
            lambda s: ProjectView.of(
                _add(s, Project(name=name, instructions=instructions, default_model=default_model))
            )
        )
        self._publish(Changes(projects=True))
        return project

    def projects(self) -> list[ProjectView]:
        return self.db.call(_projects_in)

    def project(self, project_id: str) -> ProjectView:
        return self.db.call(lambda s: ProjectView.of(_get(s, Project, project_id)))

    def project_by_name(self, name: str) -> ProjectView | None:
        def find(s: Session) -> ProjectView | None:
            row = s.scalars(select(Project).where(_alive(Project), Project.name == name.strip())).first()
            return ProjectView.of(row) if row is not None else None

        return self.db.call(find)

    def update_project(self, project_id: str, **fields) -> ProjectView:
        _check_fields("project", fields, {"name", "instructions", "default_model", "sort_order", "agent_id"})

        def change(s: Session) -> ProjectView:
            project = _get(s, Project, project_id)
            for key, value in fields.items():
                setattr(project, key, value)
            s.flush()
            return ProjectView.of(project)

        project = self.db.call(change)
        self._publish(Changes(projects=True))
        return project

    def delete_project(self, project_id: str) -> None:
        """Soft-delete the project and its conversations (undo restores both)."""
        now = datetime.now(UTC)

        def delete(s: Session) -> None:
            _get(s, Project, project_id).deleted_at = now
            s.execute(
                update(Conversation)
                .where(Conversation.project_id == project_id, Conversation.deleted_at.is_(None))
                .values(deleted_at=now)
            )

        self.db.call(delete)
        self._publish(Changes(projects=True, conversation_list=True))
