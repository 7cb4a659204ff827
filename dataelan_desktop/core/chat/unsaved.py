"""Replies whose last save failed, kept as files until the next start restores them.

The database can refuse a write for a while (another writer holding its lock, a full disk).
The person has already read the reply by then; it must not be lost with the process. One
small JSON file per reply, written atomically, is read back by :func:`restore_unsaved`
when the services are built. It goes into the data folder; when that folder's disk is full
too, into a private folder of the system's temporary folder named for this data folder (often
another disk), which the next start reads as well.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .. import paths
from .store import ChatStore

log = logging.getLogger(__name__)

FOLDER = "unsaved-replies"


def _fallback() -> Path:
    """The temporary folder's place for this data folder's kept replies (one per user and data folder,
    so that another data folder's start never takes them)."""
    home = str(paths.data_dir_location().resolve())
    tag = hashlib.sha256(home.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    user = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"dataelan-unsaved-{user}-{tag}"


def _ours(folder: Path) -> bool:
    """A folder in a shared place is used only when it is a real folder of ours that nobody else can
    open (another user could have made one of that name first, or a link to elsewhere)."""
    try:
        st = folder.lstat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    private = not paths.ENFORCE_MODES or not stat.S_IMODE(st.st_mode) & 0o077
    return stat.S_ISDIR(st.st_mode) and owner_ok and private


def _write(folder: Path, reply_id: str, data: bytes) -> Path:
    path = folder / f"{reply_id}.json"
    partial = path.with_suffix(".tmp")
    try:
        with os.fdopen(paths.create_private(partial), "wb") as file:  # 600 from its first byte
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)  # a half-written file would only take the room left
        raise
    return path


def keep(reply_id: str, fields: dict[str, Any]) -> Path:
    """Write the reply's final values to its recovery file; raises OSError when even that fails."""
    # ASCII escapes: whatever the text holds, the file can be written and read back
    data = json.dumps({"reply_id": reply_id, "fields": fields}).encode("ascii")
    try:
        return _write(paths.private_dir(paths.data_dir() / FOLDER), reply_id, data)
    except OSError as first:
        try:
            fallback = paths.private_dir(_fallback())
            if not _ours(fallback):
                raise first from None
            path = _write(fallback, reply_id, data)
        except OSError:
            raise first from None  # the data folder's reason is the one that matters
        log.warning("the data folder has no room (%s): reply %s kept in %s", first, reply_id, path)
        return path


def restore_unsaved(store: ChatStore) -> int:
    """Put every kept reply back into the database; a file is removed once it has served (its
    reply written, or its row gone or already longer). Returns how many replies were restored."""
    restored = 0
    for source in (paths.data_dir_location() / FOLDER, _fallback()):
        if not source.is_dir() or (source.name != FOLDER and not _ours(source)):
            continue
        for path in sorted(source.glob("*.json")):
            try:
                saved = json.loads(path.read_text(encoding="ascii"))
                written = store.restore_reply(saved["reply_id"], saved["fields"])
            except Exception as error:  # unreadable, or the database still refuses: the file stays
                cause = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
                # one line (the CLI shows warnings): not SQLAlchemy's statement with the whole reply in it
                log.warning("could not restore the unsaved reply in %s yet: %s", path, cause.splitlines()[0])
                continue
            restored += written
            path.unlink(missing_ok=True)
    if restored:
        log.info("restored %d reply(ies) that could not be saved before", restored)
    return restored
