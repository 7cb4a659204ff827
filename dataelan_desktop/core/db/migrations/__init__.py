"""Alembic migrations. Bump ``SCHEMA_HEAD`` with every new revision (a test checks it)."""

SCHEMA_HEAD = "0008_sync_client"
