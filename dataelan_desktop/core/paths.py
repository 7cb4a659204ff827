"""Where the app keeps its files: the platform's data folder, or ``DATAELAN_HOME``.

Everything in the data folder is private to the person who runs the app: conversations,
logs and backups are readable by nobody else on the machine (folders 700, files 600).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP_NAME = "dataelan-desktop"
HOME_ENV = "DATAELAN_HOME"

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
#: POSIX permission bits mean nothing to Windows (its folders are per-user already)
ENFORCE_MODES = os.name == "posix"


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


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as a folder only its owner can open; tighten it if it exists."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path)
    return path


def tighten(path: Path) -> None:
    """Take group and other permissions away from one file or folder (if it is ours and more open)."""
    if not ENFORCE_MODES:
        return
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        return  # a link points elsewhere (a referenced model); another user's file is not ours to change
    wanted = PRIVATE_DIR if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) & wanted)
        except OSError:
            pass  # a read-only mount: nothing can be written there anyway


def create_private(path: Path, *, exclusive: bool = False) -> int:
    """Open ``path`` for writing, created 600 from the start (never briefly readable by others)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), PRIVATE_FILE)
    tighten(path)  # an existing file keeps its mode through O_CREAT: tighten that too
    return fd


def tighten_tree(root: Path) -> None:
    """Tighten the data folder and everything the app keeps in it (run once at start)."""
    if not ENFORCE_MODES or not root.is_dir():
        return
    tighten(root)
    for entry in root.iterdir():
        if entry.is_symlink():
            continue
        tighten(entry)
        if entry.is_dir() and entry.name in ("backups", "logs", "models", "unsaved-replies"):
            for inner in entry.iterdir():
                tighten(inner)


def data_dir() -> Path:
    """The data folder, created (private) on first use."""
    return private_dir(data_dir_location())


def database_path() -> Path:
    return data_dir() / "dataelan.sqlite3"


def window_settings_path() -> Path:
    """This device's window settings (theme, layout, last conversation): an INI file in the data folder,
    so that each data folder (``DATAELAN_HOME``) keeps its own. The folder is not made here: the window
    comes up first and says why when the data folder cannot be opened (the database's start does that)."""
    return data_dir_location() / "window.ini"


def backups_dir() -> Path:
    return private_dir(data_dir() / "backups")


def logs_dir() -> Path:
    return private_dir(data_dir() / "logs")


def models_dir() -> Path:
    return private_dir(data_dir() / "models")


def resources_dir() -> Path:
    """The ``resources/`` folder shipped beside the package (repo root when editable)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "resources", here.parents[1] / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "resources"


def write_text_atomically(path: Path | str, text: str) -> None:
    """Write a file the person asked for (an export) whole or not at all: the text goes to a private
    temporary file beside it, then replaces ``path`` in one step. A full disk, a crash or text that
    cannot be encoded leaves an earlier file of that name as it was, and nothing half-written."""
    import tempfile

    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
