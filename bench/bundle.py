"""The bundle (dist/dataelan, `make package`) next to the source install: size, start-up, idle memory.

Start-up is timed as in startup.py, from ``Popen`` to the line the app prints when its window is
shown and idle (``DATAELAN_EXIT_WHEN_IDLE``); the memory is its resident size once the sidebar is
listed. The source install's size counts the runtime packages it installed (Python itself not
included); the bundle's counts everything in its folder, Python included. Skipped, with a line
saying so, when the bundle has not been built.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from . import startup
from .harness import Figure, median_of

BUNDLE = Path(__file__).resolve().parents[1] / "dist" / "dataelan"


def folder_size(path: Path) -> int:
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def source_install_size(root: str = "dataelan-desktop") -> int:
    """Bytes of the installed distributions the app needs at run time (no extras: no test tools)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = [root]
    total = 0
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if name != root:  # the app itself is an editable checkout here: not installed files
            total += sum(f.locate().stat().st_size for f in dist.files or () if f.locate().is_file())
        for spec in dist.requires or ():
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return total


def run() -> list[Figure]:
    executable = BUNDLE / "dataelan"
    if not executable.is_file():
        print("bundle: skipped: dist/dataelan is absent (build it with `make package`)")
        return []
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DATAELAN_HOME": tempfile.mkdtemp(),
        "DATAELAN_EXIT_WHEN_IDLE": "1",
    }
    source = [sys.executable, "-m", "dataelan_desktop.cli.main"]
    bundled = [str(executable)]
    startup._until_idle("source", source, env)  # creates and migrates the database once
    startup._until_idle("bundle", bundled, env)  # and reads the bundle into the page cache once
    source_s = median_of(5, lambda: startup._until_idle("source", source, env))
    bundle_s = median_of(5, lambda: startup._until_idle("bundle", bundled, env))
    source_mb, bundle_mb = startup.last_rss_mb["source"], startup.last_rss_mb["bundle"]
    size_mb = folder_size(BUNDLE) / 1e6
    archives = sorted(BUNDLE.parent.glob("dataelan-*.tar.gz"))
    figures = [
        Figure(
            "bundle: size of dist/dataelan",
            size_mb,
            "MB",
            source_install_size() / 1e6,
            "<= 300 MB",
            size_mb <= 300,
        ),
        Figure(
            "bundle: start-up to the window idle",
            bundle_s,
            "s",
            source_s,
            "<= 0.5 s and <= 1.5x source",
            bundle_s <= 0.5 and bundle_s / source_s <= 1.5,
        ),
        Figure(
            "bundle: resident memory when idle",
            bundle_mb,
            "MB",
            source_mb,
            "<= 150 MB and <= 1.2x source",
            bundle_mb <= 150 and bundle_mb / source_mb <= 1.2,
        ),
    ]
    if archives:
        archive_mb = archives[-1].stat().st_size / 1e6
        figures.append(
            Figure("bundle: the tar.gz download", archive_mb, "MB", None, "<= 150 MB", archive_mb <= 150)
        )
    return figures
