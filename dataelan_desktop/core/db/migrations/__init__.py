"""Alembic migrations. Bump ``SCHEMA_HEAD`` with every new revision (a test checks it)."""

SCHEMA_HEAD = "0009_last_message_at"
