"""Sync server fixtures: every test runs against embedded SQLite and a real PostgreSQL.

The PostgreSQL cluster at 127.0.0.1:5432 is started if it is down; each test session makes its
own database with a random name and drops it at the end. Tests keep apart by user names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from dataelan_desktop.core.sync.client import SyncClient
from dataelan_desktop.core.sync.device import MemoryDevice
from dataelan_desktop.server import accounts
from dataelan_desktop.server.settings import ServerSettings, sqlite_url

# no example database in the work tree; a failure prints the example to reproduce it
hypothesis_settings.register_profile("dataelan", database=None, print_blob=True)
hypothesis_settings.load_profile("dataelan")

PG_HOST, PG_PORT = "127.0.0.1", 5432
PASSWORD = "correct horse battery"


def _pg_admin_url() -> str | None:
    import psycopg

    for user in ("postgres", "root", os.environ.get("USER", "")):
        if not user:
            continue
        try:
            with psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", connect_timeout=3):
                return f"postgresql://{user}@{PG_HOST}:{PG_PORT}"
        except psycopg.OperationalError:
            continue
    return None


def _start_postgres() -> str:
    """Start the local cluster if it is down; returns why it could not be reached, or ''."""
    if _pg_admin_url():
        return ""
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster"):
        return "no PostgreSQL cluster is installed here (/etc/postgresql is empty)"
    result = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if _pg_admin_url():
        return ""
    return f"pg_ctlcluster could not start PostgreSQL {versions[-1]}: {result.stderr.strip() or result.stdout.strip()}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    why = _start_postgres()
    if why:
        pytest.skip(f"POSTGRESQL TESTS SKIPPED: {why}")
    import psycopg

    admin = _pg_admin_url()
    name = f"dataelan_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin}/{name}"
    finally:
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "server")
    return request.getfixturevalue("pg_url")


def fast_settings(url: str, **overrides) -> ServerSettings:
    """argon2id at a low cost: tests sign in often; the real cost is the CLI tests' and the default."""
    values = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1, "ws_recheck_s": 0.5}
    values.update(overrides)
    return ServerSettings(url, **values)


@pytest.fixture
def settings(database_url: str) -> ServerSettings:
    return fast_settings(database_url)


@pytest.fixture
def app(settings: ServerSettings):
    from dataelan_desktop.server.app import create_app

    built = create_app(settings)
    yield built
    built.state.sync.db.close()


@pytest.fixture
def http(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def add_user(app, name: str | None = None, password: str = PASSWORD) -> str:
    name = name or f"u{uuid.uuid4().hex[:10]}"
    state = app.state.sync
    with state.db.session() as session:
        accounts.add_user(session, state.settings, name, password)
    return name


def signed_in(http, user: str, password: str = PASSWORD, **device_kw) -> tuple[MemoryDevice, SyncClient]:
    device = MemoryDevice(**device_kw)
    client = SyncClient(http)
    client.login(user, password, device.id, f"device {device.id[:4]}")
    return device, client
