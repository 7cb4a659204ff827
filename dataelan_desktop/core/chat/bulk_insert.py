"""Writing many rows of one table with one prepared statement and plain tuples.

SQLAlchemy's executemany builds and type-processes a parameter dict per row through its compiled
statement; for a first sync's 100,000 messages that bookkeeping costs more than SQLite's own work.
Here each column's Python default and bind processor are looked up once, and the rows go to the
driver as tuples, in the caller's transaction, with ``ON CONFLICT DO NOTHING`` (the first version
of a row stays, as in core/sync/apply.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection


def insert_or_keep(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``; a row whose key exists is left as it is."""
    if not rows:
        return
    given = set(rows[0])
    columns, fills = [], []
    for column in table.columns:
        default = column.default
        if column.name in given:
            fill: Callable[[dict[str, Any]], Any] = _take(column.name)
        elif default is not None and default.is_scalar:
            fill = _constant(default.arg)
        elif default is not None and default.is_callable:
            fill = _call(default.arg)
        else:
            continue  # NULL or the server's default, as SQLAlchemy would leave it
        process = column.type.bind_processor(conn.dialect)
        columns.append(column.name)
        fills.append(fill if process is None else _processed(fill, process))
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT DO NOTHING"
    )
    conn.exec_driver_sql(sql, [tuple(fill(row) for fill in fills) for row in rows])


def _take(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda row: value


def _call(fn: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda row: fn(None)  # SQLAlchemy wraps a default taking no context to take one


def _processed(
    fill: Callable[[dict[str, Any]], Any], process: Callable[[Any], Any]
) -> Callable[[dict[str, Any]], Any]:
    return lambda row: process(fill(row))
