"""The server's settings: where its database is, its limits, and the cost of password hashing.

``dataelan server run`` fills them from its options through environment variables, so that
every uvicorn worker process builds the same settings (``from_env``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from ..core import paths
from ..core.sync import protocol

ENV_PREFIX = "DATAELAN_SERVER_"


def default_data_dir() -> Path:
    return paths.data_dir_location() / "server"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).expanduser().resolve() / 'server.sqlite3'}"


def normalise_url(url: str) -> str:
    """PostgreSQL URLs go through psycopg 3 whatever driver they name (or none)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class ServerSettings:
    database_url: str
    max_push_bytes: int = protocol.MAX_PUSH_BYTES
    max_ops_per_push: int = protocol.MAX_OPS_PER_PUSH
    max_pull_limit: int = protocol.MAX_PULL_LIMIT
    max_clock_ahead_ms: int = protocol.MAX_CLOCK_AHEAD_MS
    #: failed sign-ins per account (and, higher, per client address) before waiting out the window
    login_max_failures: int = 5
    login_ip_max_failures: int = 50
    login_window_s: int = 900
    #: argon2id cost (argon2-cffi's defaults: 3 passes over 64 MiB)
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    #: how often an open WebSocket re-checks its token (revocation by another process on SQLite)
    ws_recheck_s: float = 2.0
    #: test hook only: "pause-push-before-commit" stops a push just before it commits
    fault: str = ""

    def __post_init__(self):
        self.database_url = normalise_url(self.database_url)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def to_env(self) -> dict[str, str]:
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls) -> ServerSettings:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = float(raw) if f.type == "float" else int(raw) if f.type == "int" else raw
        values.setdefault("database_url", sqlite_url(default_data_dir()))
        return cls(**values)
