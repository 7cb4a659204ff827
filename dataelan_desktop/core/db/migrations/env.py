"""Alembic environment: run against the connection the app hands over."""

from alembic import context

from dataelan_desktop.core.db.tables import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from dataelan_desktop.core.db.engine import make_engine

        url = context.config.get_main_option("sqlalchemy.url")
        with make_engine(url).connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
