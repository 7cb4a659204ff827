"""Alembic migrations. Bump ``SCHEMA_HEAD`` with every new revision (a test checks it)."""

SCHEMA_HEAD = "0006_agents"
