"""The local database: SQLAlchemy 2.0 models, engine set-up, Alembic migrations."""

from .engine import Database, open_database

__all__ = ["Database", "open_database"]
