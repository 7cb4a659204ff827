"""Workflows: multi-step prompt chains as a recorded, resumable graph (definition, checks, engine, runs).

Kept light: importing the package loads nothing (the tables module is imported by core/db/tables.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services import Services
    from .store import WorkflowStore


def open_store(services: Services) -> WorkflowStore:
    """The workflow store over a process's services, checking models against its provider registry."""
    from .models import model_checker, template_checker
    from .store import WorkflowStore

    return WorkflowStore(
        services.db, services.bus, model_checker(services.registry), template_checker(services.templates)
    )
