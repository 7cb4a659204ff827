"""The busy-machine variant: one competing CPU-bound process, as a browser tab spinning beside the app.

Every streaming and local figure is measured under both conditions, ``quiet`` and ``busy``; in
``busy`` the competing process runs through the baseline's runs and the app's alike, so that a
ratio compares the two under the same load.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext


@contextmanager
def competing_load() -> Iterator[None]:
    """A CPU-bound process (a Python busy loop) for as long as the block runs."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        process.kill()
        process.wait(timeout=10)


CONDITIONS: tuple[tuple[str, Callable[[], AbstractContextManager]], ...] = (
    ("quiet", nullcontext),
    ("busy", competing_load),
)
