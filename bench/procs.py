"""CPU time and resident memory of processes, read from /proc (Linux), for the cost figures.

A benchmark adds up the app's processes (the window's, the network process, a model process)
itself: it knows their ids, and a child of the benchmark (a loopback server, the baseline loop)
is not part of the app.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of one process, all its threads (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _kb_field(pid: int | None, file: str, field: str) -> float:
    """A "Field:  N kB" line of /proc/PID/FILE, in MB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid or os.getpid()}/{file}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of one process in MB (0 when it is gone)."""
    return _kb_field(pid, "status", "VmRSS:")


def pss_mb(pid: int | None = None) -> float:
    """Proportional set size in MB: resident memory with each shared page divided among all the
    processes mapping it (any process: the benchmark's own too)."""
    return _kb_field(pid, "smaps_rollup", "Pss:")


PRESENT = 1 << 63  # pagemap: the page is in memory
FRAME = (1 << 55) - 1  # pagemap: the physical frame number's bits


def resident_together_mb(pids: list[int]) -> float | None:
    """The memory the processes keep resident together, each physical page counted once however many
    of them map it (a shared library's page, the same file mapped twice), read from each process's
    ``pagemap``. None where frame numbers are hidden (reading them takes CAP_SYS_ADMIN): then only the
    RSS sum (which counts a shared page once per process) or the PSS sum (which divides a page among
    every process mapping it, the benchmark's own included) remain."""
    page = os.sysconf("SC_PAGE_SIZE")
    frames: set[int] = set()
    for pid in pids:
        try:
            regions = Path(f"/proc/{pid}/maps").read_text().splitlines()
            with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
                for region in regions:
                    start, end = (int(x, 16) for x in region.split(maxsplit=1)[0].split("-"))
                    pagemap.seek(start // page * 8)
                    entries = array("Q")
                    try:
                        entries.frombytes(pagemap.read((end - start) // page * 8))
                    except OSError:  # [vsyscall] and the like cannot be read
                        continue
                    frames.update(e & FRAME for e in entries if e & PRESENT)
        except OSError:
            continue  # gone meanwhile
    if frames and frames <= {0}:
        return None
    return len(frames) * page / 2**20


def children(pid: int | None = None) -> list[int]:
    """The processes whose parent is ``pid`` (this process by default)."""
    parent = str(pid or os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2 :].split()[1] == parent:
            found.append(int(entry.name))
    return found
