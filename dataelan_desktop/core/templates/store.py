"""Prompt templates in the local database: the user's own and a seeded built-in library."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..changes import ChangeBus, Changes
from ..db import Database
from ..db.tables import PromptTemplate
from .render import RenderedPrompt, TemplateError, Variable, render_parts, template_variables

log = logging.getLogger(__name__)

NAME_LENGTH = 200
FIELDS = ("name", "body", "system_prompt", "category", "description")
BUILTIN_FILE = "templates.json"


@dataclass(frozen=True)
class TemplateView:
    """A template as plain data: safe to hand to any thread or widget."""

    id: str
    name: str
    body: str
    system_prompt: str | None
    category: str | None
    description: str | None
    builtin: bool

    @property
    def variables(self) -> list[Variable]:
        return template_variables(self.body, self.system_prompt)

    @classmethod
    def of(cls, row: PromptTemplate) -> TemplateView:
        return cls(
            id=row.id,
            name=row.name,
            body=row.body,
            system_prompt=row.system_prompt,
            category=row.category,
            description=row.description,
            builtin=row.builtin_key is not None,
        )


def _optional(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TemplateError("A template needs a name.")
    if len(name) > NAME_LENGTH:
        raise TemplateError(f"A template name can be at most {NAME_LENGTH} characters.")
    return name


def _check_body(body: str | None) -> str:
    if body is None or not body.strip():
        raise TemplateError("A template needs a body: the prompt text, with {{variables}} where values go.")
    return body


def _alive(session: Session) -> list[PromptTemplate]:
    return list(session.scalars(select(PromptTemplate).where(PromptTemplate.deleted_at.is_(None))))


def _check_unique(session: Session, name: str, own_id: str | None = None) -> None:
    # case-insensitive: "Summarise" and "summarise" would be the same template on the command line
    for row in _alive(session):
        if row.id != own_id and row.name.casefold() == name.casefold():
            raise TemplateError(f"A template named '{row.name}' already exists. Choose another name.")


class TemplateStore:
    """Synchronous data access (async callers go through :meth:`Database.in_thread`)."""

    def __init__(self, db: Database, bus: ChangeBus):
        self.db = db
        self.bus = bus
        self.builtin_file: Path | None = None  # None: resources/templates.json (tests point elsewhere)
        self._seeded = False
        self._seed_lock = threading.Lock()  # the GUI thread and the database thread may both ask first

    # -- reading ---------------------------------------------------------------------------

    def list(self, category: str | None = None, query: str | None = None) -> list[TemplateView]:
        """Live templates sorted by name; ``query`` looks in name, category, description and body."""
        self._seed_once()
        rows = [TemplateView.of(r) for r in self.db.call(_alive)]
        if category:
            rows = [t for t in rows if (t.category or "").casefold() == category.casefold()]
        words = (query or "").casefold().split()
        if words:
            rows = [t for t in rows if all(w in _haystack(t) for w in words)]
        return sorted(rows, key=lambda t: (t.name.casefold(), t.name))

    def get(self, name_or_id: str) -> TemplateView:
        self._seed_once()
        return TemplateView.of(self.db.call(lambda s: self._find(s, name_or_id)))

    def _find(self, session: Session, name_or_id: str) -> PromptTemplate:
        rows = _alive(session)
        wanted = " ".join((name_or_id or "").split())
        for row in rows:
            if row.id == wanted:
                return row
        for row in rows:
            if row.name.casefold() == wanted.casefold():
                return row
        import difflib  # only on a miss: keeps start-up imports as they were

        close = difflib.get_close_matches(wanted, [r.name for r in rows], n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'?" if close else "The templates list shows every name."
        raise LookupError(f"No template named '{wanted}'. {hint}")

    # -- changing --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        body: str,
        *,
        system_prompt: str | None = None,
        category: str | None = None,
        description: str | None = None,
    ) -> TemplateView:
        self._seed_once()  # so a built-in never arrives later under a name the person already took
        name, body = _clean_name(name), _check_body(body)

        def write(s: Session) -> TemplateView:
            _check_unique(s, name)
            row = PromptTemplate(name=name, body=body, system_prompt=_optional(system_prompt),
                                 category=_optional(category and category.strip()),
                                 description=_optional(description))  # fmt: skip
            s.add(row)
            s.flush()
            return TemplateView.of(row)

        view = self.db.call(write)
        self._changed()
        return view

    def update(self, template_id: str, **fields: str | None) -> TemplateView:
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise TemplateError(f"Unknown template fields: {', '.join(sorted(unknown))}.")
        if "name" in fields:
            fields["name"] = _clean_name(fields["name"])
        if "body" in fields:
            fields["body"] = _check_body(fields["body"])
        for key in ("system_prompt", "description"):
            if key in fields:
                fields[key] = _optional(fields[key])
        if "category" in fields:
            fields["category"] = _optional(fields["category"] and fields["category"].strip())

        def write(s: Session) -> TemplateView:
            row = self._find(s, template_id)
            if "name" in fields:
                _check_unique(s, fields["name"], own_id=row.id)
            for key, value in fields.items():
                setattr(row, key, value)
            s.flush()
            return TemplateView.of(row)

        view = self.db.call(write)
        self._changed()
        return view

    def delete(self, template_id: str) -> None:
        """Soft delete: the row stays (for sync, for undo, and so a built-in is not seeded again)."""

        def write(s: Session) -> None:
            self._find(s, template_id).deleted_at = datetime.now(UTC)

        self.db.call(write)
        self._changed()

    def restore(self, template_id: str) -> TemplateView:
        """Undo a delete, unless another template has taken the name meanwhile."""

        def write(s: Session) -> TemplateView:
            row = s.get(PromptTemplate, template_id)
            if row is None:
                raise LookupError(f"No template with id {template_id}.")
            _check_unique(s, row.name, own_id=row.id)
            row.deleted_at = None
            return TemplateView.of(row)

        view = self.db.call(write)
        self._changed()
        return view

    def render(self, name_or_id: str, values: Mapping[str, str]) -> RenderedPrompt:
        template = self.get(name_or_id)
        return render_parts(template.body, template.system_prompt, values)

    # -- the built-in library --------------------------------------------------------------

    def ensure_builtin(self) -> int:
        """Add the built-ins not yet in the database (never one the person deleted). Returns how many."""
        entries = _load_builtin(self.builtin_file or _default_builtin_file())

        def seed(s: Session) -> int:
            known = set(
                s.scalars(select(PromptTemplate.builtin_key).where(PromptTemplate.builtin_key.is_not(None)))
            )
            taken = {r.name.casefold() for r in _alive(s)}
            added = 0
            for entry in entries:
                if entry["key"] in known:
                    continue
                name = entry["name"]
                if name.casefold() in taken:  # the person already uses this name: keep theirs
                    name = f"{name} (built-in)"
                    if name.casefold() in taken:
                        continue
                s.add(PromptTemplate(name=name, body=entry["body"], system_prompt=_optional(entry.get("system_prompt")),
                                     category=_optional(entry.get("category")),
                                     description=_optional(entry.get("description")), builtin_key=entry["key"]))  # fmt: skip
                taken.add(name.casefold())
                added += 1
            return added

        try:
            added = self.db.call(seed)
        except IntegrityError:  # another process (the CLI beside the window) seeded them just now
            added = 0
        self._seeded = True
        if added:
            self._changed()
        return added

    def _seed_once(self) -> None:
        if self._seeded:
            return
        with self._seed_lock:
            if self._seeded:
                return
            try:
                self.ensure_builtin()
            except (
                OSError,
                TemplateError,
            ) as exc:  # a broken install must not hide the person's own templates
                log.warning("built-in templates not loaded: %s", exc)
                self._seeded = True

    def _changed(self) -> None:
        self.bus.publish(Changes(templates=True))

    def apply_remote(self, changes: Sequence[Any]) -> Changes:
        """Merge templates pulled from the sync server (core/sync/apply.py decides, this store writes).
        A built-in template is seeded on each device under its own id: another device's copy of it
        is left out by the unique built-in key, and edits to built-ins stay on their device."""
        from ..sync.apply import remote_writes  # sync's edge: loaded once signed in

        def write(s: Session) -> None:
            for statement, params in remote_writes(s, changes):
                s.execute(statement, params)

        self.db.call(write)
        self._changed()
        return Changes(templates=True)


def _haystack(t: TemplateView) -> str:
    return " ".join(filter(None, (t.name, t.category, t.description, t.body))).casefold()


def _default_builtin_file() -> Path:
    from .. import paths

    return paths.resources_dir() / BUILTIN_FILE


def _load_builtin(path: Path) -> list[dict[str, str]]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise TemplateError(f"{path.name} is not valid JSON: {exc}") from exc
    entries = data.get("templates") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise TemplateError(f"{path.name} should hold a list of templates.")
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry[k].strip() for k in ("key", "name", "body")
        ):
            raise TemplateError(f"{path.name}: template {number} needs a key, a name and a body.")
    return entries
