"""The server's own migrations build exactly the tables its code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dataelan_desktop.server.tables import ServerBase


def test_migrated_schema_matches_the_declared_tables(app):
    engine = app.state.sync.db.engine
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": "server_alembic_version"})
        assert compare_metadata(context, ServerBase.metadata) == []
