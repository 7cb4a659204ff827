"""Files a message shows (images kept from an import): each stored once in the data folder's
``attachments/``, named by its SHA-256, and referenced from the message's ``attachments`` entry
(``{"kind": "image", "name": …, "mime": …, "file": "attachments/<sha256>.png"}``).

Files, not rows: the message row (written by ``ChatStore``) says which file it shows; the bytes
live here, so the database stays small and an image shared by two messages is kept once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .. import paths

FOLDER = "attachments"
MAX_IMAGE_BYTES = 50 * 1024 * 1024  # larger "images" in an export are not kept (counted as not kept)
#: the image formats a message can show, by their first bytes
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


def image_type(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) of an image the app can show, or None."""
    for signature, mime, ext in _SIGNATURES:
        if data.startswith(signature):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def store_image(data: bytes) -> str:
    """Keep ``data`` in the data folder (once, whoever else kept it) and return its reference."""
    kind = image_type(data)
    if kind is None:
        raise ValueError("Not an image the app can show (PNG, JPEG, GIF or WebP).")
    folder = paths.private_dir(paths.data_dir() / FOLDER)
    name = hashlib.sha256(data).hexdigest() + kind[1]
    target = folder / name
    if not target.exists():
        partial = folder / (name + ".partial")
        fd = paths.create_private(partial)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        partial.replace(target)  # a file under its final name is always whole
    return f"{FOLDER}/{name}"


def stored_path(reference: str) -> Path | None:
    """The file a reference names, or None if it is not one of ours (or is gone)."""
    name = Path(reference).name
    if reference != f"{FOLDER}/{name}" or name.startswith("."):
        return None  # only files directly in attachments/: an imported entry cannot point elsewhere
    path = paths.data_dir_location() / FOLDER / name
    return path if path.is_file() else None


def read_stored(reference: str) -> bytes | None:
    path = stored_path(reference)
    return path.read_bytes() if path is not None else None
