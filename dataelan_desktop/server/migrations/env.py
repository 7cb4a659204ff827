"""Alembic environment of the sync server (separate from the app's): runs on the connection it is given."""

from alembic import context

from dataelan_desktop.server.tables import ServerBase

VERSION_TABLE = "server_alembic_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=ServerBase.metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
