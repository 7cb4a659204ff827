"""Model downloads through huggingface_hub: progress, pause/resume, cancel, disk check, SHA-256.

huggingface_hub finds the file (URL, endpoint, token, size and its SHA-256 from the
hub's metadata). The transfer itself appends to ``NAME.gguf.partial`` and continues
with a Range request after a cut, a pause or a restart of the app (huggingface_hub 2.x
discards partial files between calls, so it cannot pause).
A download becomes a model only after its SHA-256 matched; anything else is removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import paths

SPACE_MARGIN = 256 * 1024 * 1024  # keep this much free beyond the file itself
#: bytes per read: progress, pause and cancel act at this granularity (the hub library's default is 10 MB)
CHUNK_SIZE = 1024 * 1024


class DownloadError(RuntimeError):
    """A download that cannot go on or did not verify; the message says what to do."""


class HubUnreachable(DownloadError):
    """The hub could not be reached at all (no network, a proxy, a wrong ``HF_ENDPOINT``): nothing is
    wrong with the file, and what was downloaded so far is kept for Retry."""


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) means no connection to the hub could be made."""
    import socket

    import httpx

    kinds: tuple[type[BaseException], ...] = (
        httpx.ConnectError, httpx.ConnectTimeout, socket.gaierror, ConnectionError, TimeoutError,
    )  # fmt: skip
    try:
        from huggingface_hub.errors import OfflineModeIsEnabled

        kinds += (OfflineModeIsEnabled,)
    except ImportError:  # older huggingface_hub
        pass
    try:
        import requests

        kinds += (requests.ConnectionError,)  # huggingface_hub before 1.0 speaks through requests
    except ImportError:
        pass
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kinds):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class DownloadStopped(Exception):
    """Raised inside the transfer when the person pauses or cancels."""


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    bytes_per_second: float

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


def sha256_of(path: Path, chunk: int = 4 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _endpoint() -> str:
    # read at call time (huggingface_hub reads HF_ENDPOINT once, at import)
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


class Download:
    """One file from a repository. ``run()`` blocks (call it in a thread); ``pause()``/``cancel()`` from anywhere."""

    def __init__(
        self,
        repo_id: str,
        filename: str,
        *,
        revision: str = "main",
        sha256: str | None = None,
        size: int | None = None,
        folder: Path | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        if "/" not in repo_id or not filename.endswith(".gguf"):
            raise ValueError("Give a repository like 'owner/name' and a .gguf file name.")
        self.repo_id, self.filename, self.revision = repo_id, filename, revision
        self.expected_sha256 = sha256.lower() if sha256 else None
        self.expected_size = size
        self.folder = folder or paths.models_dir()
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._cancelled = False
        self.state = "ready"  # ready | running | paused | cancelled | verifying | done | failed

    @property
    def target(self) -> Path:
        return self.folder / Path(self.filename).name

    def pause(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        self._cancelled = True
        self._stop.set()

    def _metadata(self):
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        url = hf_hub_url(self.repo_id, self.filename, revision=self.revision, endpoint=_endpoint())
        try:
            return get_hf_file_metadata(url, token=os.environ.get("HF_TOKEN") or None, endpoint=_endpoint())
        except Exception as exc:  # no network, or 401/404 from the hub
            if _unreachable(exc):
                raise self._unreachable_error() from exc
            raise DownloadError(f"Could not find {self.filename} in {self.repo_id}: {exc}") from exc

    def _unreachable_error(self) -> HubUnreachable:
        kept = self._partial_size()
        so_far = f" The {kept / 1e6:.1f} MB downloaded so far is kept." if kept else ""
        return HubUnreachable(
            f"Can't reach Hugging Face ({_endpoint()}): offline, a proxy, or HF_ENDPOINT. "
            f"Nothing is wrong with {self.filename}.{so_far} Retry when the connection is back."
        )

    def check_space(self, size: int | None) -> None:
        if not size:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.folder).free
        if free < size + SPACE_MARGIN:
            raise DownloadError(
                f"Not enough disk space for {self.filename}: it needs {size / 1e9:.1f} GB (+0.3 GB margin) "
                f"and {self.folder} has {free / 1e9:.1f} GB free."
            )

    @property
    def partial_path(self) -> Path:
        return self.target.with_name(self.target.name + ".partial")

    def _report(self, done: int, total: int | None, began: float, resumed_from: int) -> None:
        if self.on_progress is not None:
            elapsed = max(time.monotonic() - began, 1e-6)
            self.on_progress(Progress(done, total, (done - resumed_from) / elapsed))

    def _transfer(self, url: str, total: int | None) -> None:
        """Append the rest of the file to the partial file, resuming with Range after any cut."""
        import httpx
        from huggingface_hub.utils import build_hf_headers

        headers = build_hf_headers(token=os.environ.get("HF_TOKEN") or None)
        began = time.monotonic()
        resumed_from = self._partial_size()
        attempts = 0
        while True:
            done = self._partial_size()
            if total is not None and done >= total:
                return
            request_headers = dict(headers)
            if done:
                request_headers["Range"] = f"bytes={done}-"
            try:
                with httpx.stream(
                    "GET", url, headers=request_headers, follow_redirects=True, timeout=30.0
                ) as response:
                    if response.status_code == 416:  # nothing left to send
                        return
                    if response.status_code not in (200, 206):
                        raise DownloadError(f"The hub answered {response.status_code} for {self.filename}.")
                    mode = "ab" if response.status_code == 206 else "wb"  # 200: the server restarted from 0
                    if not self.partial_path.exists():
                        os.close(paths.create_private(self.partial_path))  # private from the first byte
                    with open(self.partial_path, mode) as out:
                        written = done if mode == "ab" else 0
                        for chunk in response.iter_bytes(CHUNK_SIZE):
                            if self._stop.is_set():
                                raise DownloadStopped()
                            out.write(chunk)
                            written += len(chunk)
                            attempts = 0  # progress was made: a later cut gets fresh retries
                            self._report(written, total, began, resumed_from)
                return
            except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                attempts += 1
                if attempts > 5 and _unreachable(exc):  # the network went away mid-download
                    raise self._unreachable_error() from exc
                if attempts > 5:
                    raise DownloadError(
                        f"The connection kept dropping while downloading {self.filename} ({exc}). "
                        "Resume to continue where it stopped."
                    ) from exc
                time.sleep(min(0.2 * attempts, 2.0))

    def run(self) -> Path:
        """Download (or continue) the file, verify it, and return its path."""
        from huggingface_hub import hf_hub_url

        self._stop.clear()
        self.state = "running"
        metadata = self._metadata()
        size = self.expected_size or metadata.size
        hub_sha = (metadata.etag or "").strip('"').lower() if metadata.etag else None
        self.check_space(size - self._partial_size() if size else None)
        url = hf_hub_url(self.repo_id, self.filename, revision=self.revision, endpoint=_endpoint())
        try:
            self._transfer(url, size)
        except DownloadStopped:
            if self._cancelled:
                self.state = "cancelled"
                self.discard()
                raise DownloadError(f"Download of {self.filename} cancelled.") from None
            self.state = "paused"
            raise
        except DownloadError:
            self.state = "failed"
            raise
        self.state = "verifying"
        expected = self.expected_sha256 or (hub_sha if hub_sha and len(hub_sha) == 64 else None)
        if expected:
            actual = sha256_of(self.partial_path)
            if actual != expected:
                self.discard()
                self.state = "failed"
                raise DownloadError(
                    f"{self.filename} did not match its SHA-256 (expected {expected[:12]}…, got {actual[:12]}…); "
                    "the file was discarded. Download it again."
                )
        self.partial_path.replace(self.target)  # only a verified file gets the model's name
        self.state = "done"
        return self.target

    def _partial_size(self) -> int:
        return self.partial_path.stat().st_size if self.partial_path.exists() else 0

    def _partials(self) -> list[Path]:
        return [self.partial_path] if self.partial_path.exists() else []

    def discard(self) -> None:
        self.partial_path.unlink(missing_ok=True)
