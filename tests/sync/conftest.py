"""Two real app databases (two data folders: two devices) and a real `dataelan server run` on loopback,
on embedded SQLite and on PostgreSQL (the server tests' database fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataelan_desktop.core.services import Services, build_services
from dataelan_desktop.core.sync.engine import SyncEngine, build_engine
from dataelan_desktop.server import accounts
from dataelan_desktop.server.db import Database as ServerDatabase
from dataelan_desktop.server.settings import ServerSettings, sqlite_url
from tests.server.conftest import pg_url  # noqa: F401 - a fixture, used through `backend`
from tests.server.live import LiveServer
from tests.ui.conftest import qloop, qsettings, ui_run, window  # noqa: F401 - fixtures for test_sync_ui

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("server-db"))
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def live(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    """One real server process per module and database; each test signs in as a user of its own."""
    server = LiveServer(tmp_path_factory.mktemp("server-home"), backend)
    server.start()
    yield server
    server.stop()


def add_user(server: LiveServer, name: str | None = None) -> str:
    """A new account, written straight into the server's database (the CLI's way costs a process)."""
    name = name or f"u{uuid.uuid4().hex[:10]}"
    settings = ServerSettings(
        server.database_url, argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1
    )
    db = ServerDatabase(settings.database_url)
    try:
        with db.session() as session:
            accounts.add_user(session, settings, name, PASSWORD)
    finally:
        db.close()
    return name


class Device:
    """One app data folder: its services and its sync engine."""

    def __init__(self, folder: Path):
        self.services: Services = build_services(folder / "dataelan.sqlite3")
        self.engine: SyncEngine = build_engine(self.services)

    @property
    def store(self):
        return self.services.store

    def close(self) -> None:
        self.engine.close()
        self.services.close()


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    a, b = Device(tmp_path / "a"), Device(tmp_path / "b")
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def user(live: LiveServer) -> str:
    return add_user(live)
