"""Replies whose last save failed, kept as files in the data folder until the next start restores them.

The database can refuse a write for a while (another writer holding its lock, a full disk).
The person has already read the reply by then; it must not be lost with the process. One
small JSON file per reply, written atomically, is read back by :func:`restore_unsaved`
when the services are built.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import paths
from .store import ChatStore

log = logging.getLogger(__name__)

FOLDER = "unsaved-replies"


def folder() -> Path:
    return paths.private_dir(paths.data_dir() / FOLDER)  # the reply's text: nobody else's to read


def keep(reply_id: str, fields: dict[str, Any]) -> Path:
    """Write the reply's final values to its recovery file; raises OSError when even that fails."""
    path = folder() / f"{reply_id}.json"
    partial = path.with_suffix(".tmp")
    # ASCII escapes: whatever the text holds, the file can be written and read back
    data = json.dumps({"reply_id": reply_id, "fields": fields}).encode("ascii")
    with os.fdopen(paths.create_private(partial), "wb") as file:  # 600 from its first byte
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    return path


def restore_unsaved(store: ChatStore) -> int:
    """Put every kept reply back into the database; a file is removed once it has served (its
    reply written, or its row gone or already longer). Returns how many replies were restored."""
    source = paths.data_dir_location() / FOLDER
    if not source.is_dir():
        return 0
    restored = 0
    for path in sorted(source.glob("*.json")):
        try:
            saved = json.loads(path.read_text(encoding="ascii"))
            written = store.restore_reply(saved["reply_id"], saved["fields"])
        except Exception as error:  # unreadable, or the database still refuses: the file stays
            log.warning("could not restore the unsaved reply in %s yet: %s", path, error)
            continue
        restored += written
        path.unlink(missing_ok=True)
    if restored:
        log.info("restored %d reply(ies) that could not be saved before", restored)
    return restored
