"""Where the app keeps its files: the platform's data folder, or ``DATAELAN_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "dataelan-desktop"
HOME_ENV = "DATAELAN_HOME"


def data_dir_location() -> Path:
    """Where the data folder is, without creating it.

    ``DATAELAN_HOME`` overrides the platform default so tests and portable installs
    can keep everything in one folder.
    """
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The data folder, created on first use."""
    path = data_dir_location()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return data_dir() / "dataelan.sqlite3"


def backups_dir() -> Path:
    path = data_dir() / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """The ``resources/`` folder shipped beside the package (repo root when editable)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "resources", here.parents[1] / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "resources"
