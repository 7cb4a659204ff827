"""The cloud providers' model lists as last fetched, kept in the data folder (``cache/models.json``).

The model picker is filled from here at start, so an everyday start asks no provider for its list
and does not start the network process (with both cloud SDKs it holds about 90 MB) before the
person sends anything; the picker also fills at once, and offline. A list is asked for again when it
is older than :data:`MAX_AGE`, when the provider's kind or address changed, when its key or settings
changed (the registry forgets it then), and whenever someone asks for fresh lists (Tools → Refresh
model lists, ``dataelan models list``).

Nothing secret is kept: model ids and names, the provider's kind and address. A damaged or
unwritable file only means the lists are asked for again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from ..providers.types import ModelInfo

log = logging.getLogger(__name__)

MAX_AGE = 24 * 3600.0  # seconds a fetched list is shown without asking the provider again


class ModelListCache:
    """Per provider: (kind and address it was fetched from, when, the models). ``path`` None keeps
    them in memory only (an in-memory database has no data folder)."""

    def __init__(self, path: Path | None, max_age: float = MAX_AGE):
        self.path = path
        self.max_age = max_age
        self._lock = threading.Lock()
        self._entries: dict[str, dict] | None = None if path is not None else {}

    def get(self, provider: str, source: str) -> list[ModelInfo] | None:
        """The list last fetched from ``source`` (the provider's kind and address), if fresh enough."""
        with self._lock:
            entry = self._read().get(provider)
        if not entry or entry.get("source") != source:
            return None
        try:
            age = time.time() - float(entry.get("fetched_at") or 0)
        except (TypeError, ValueError):  # a hand-edited or half-understood file
            return None
        if not 0 <= age <= self.max_age:
            return None
        try:
            return [
                ModelInfo(id=str(m["id"]), provider=provider, display_name=m.get("display_name"))
                for m in entry["models"]
            ]
        except (KeyError, TypeError, AttributeError):  # a hand-edited or half-understood file
            return None

    def put(self, provider: str, source: str, models: list[ModelInfo]) -> None:
        entry = {
            "source": source,
            "fetched_at": time.time(),
            "models": [{"id": m.id, "display_name": m.display_name} for m in models],
        }
        with self._lock:
            entries = self._read()
            entries[provider] = entry
            self._write(entries)

    def forget(self, provider: str | None = None) -> None:
        """Ask again next time: one provider's list (its key or settings changed), or every list."""
        with self._lock:
            entries = self._read()
            if provider is None:
                entries.clear()
            elif entries.pop(provider, None) is None:
                return
            self._write(entries)

    # -- the file ----------------------------------------------------------------------------

    def _read(self) -> dict[str, dict]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, dict] = {}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
            if isinstance(loaded, dict) and isinstance(loaded.get("providers"), dict):
                entries = {k: v for k, v in loaded["providers"].items() if isinstance(v, dict)}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:
            log.info("model list cache not read (%s): the lists are asked for again", error)
        self._entries = entries
        return entries

    def _write(self, entries: dict[str, dict]) -> None:
        if self.path is None:
            return
        try:  # whole or not at all: a crash mid-write leaves the previous file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".models-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"version": 1, "providers": entries}, out)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:  # a full disk: the lists are fetched again next start, nothing lost
            log.warning("model list cache not written: %s", error)
