"""What the reliability tests tried; printed by this folder's conftest at the end of the run.

Counters: ``crashes`` (processes killed with everything shown kept), ``faults`` (injected server, disk
and database faults), ``bad_inputs`` (malformed files and arguments refused in one clean line),
``lost`` (user messages missing afterwards: must stay 0) and ``keys`` (planted keys found where they
must never be: the data folder, logs, backups, exports and everything a command printed; must stay 0).

A test plants a key with :func:`plant_key` and hands what it produced to :func:`scan_for_keys`;
the conftest also scans every test's data folder for every key planted so far.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

TALLY: Counter = Counter()
PLANTED: set[str] = set()


def plant_key(prefix: str = "sk-proj-") -> str:
    """A fresh, recognisable fake key that must never show up outside the keyring."""
    key = f"{prefix}PLANTED{secrets.token_hex(12)}"
    PLANTED.add(key)
    return key


def _files(folder: Path) -> Iterable[Path]:
    if folder.is_dir():
        yield from (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    elif folder.is_file():
        yield folder


def scan_for_keys(*places: Path | str | bytes | None) -> list[str]:
    """Where a planted key was found: each place is a folder or file (scanned byte by byte, so the
    database, its WAL and backups count) or text a command printed. Adds the hits to the tally."""
    if not PLANTED:
        return []
    needles = [k.encode() for k in PLANTED]
    hits: list[str] = []
    for place in places:
        if place is None:
            continue
        if isinstance(place, Path):
            for file in _files(place):
                try:
                    data = file.read_bytes()
                except OSError:
                    continue
                hits += [f"{file}: {n.decode()}" for n in needles if n in data]
        else:
            data = place.encode("utf-8", "surrogateescape") if isinstance(place, str) else place
            hits += [f"output: {n.decode()}" for n in needles if n in data]
    TALLY["keys"] += len(hits)
    TALLY["key_scans"] += 1
    return hits


def summary() -> str:
    return (
        f"reliability: {TALLY['crashes']} crashes survived with all shown text kept, "
        f"{TALLY['faults']} faults injected, {TALLY['bad_inputs']} bad inputs refused cleanly, "
        f"{TALLY['lost']} messages lost, {TALLY['keys']} keys found"
    )
