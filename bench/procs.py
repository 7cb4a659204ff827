"""CPU time and resident memory of processes, read from /proc (Linux), for the cost figures.

A benchmark adds up the app's processes (the window's, the network process, a model process)
itself: it knows their ids, and a child of the benchmark (a loopback server, the baseline loop)
is not part of the app.
"""

from __future__ import annotations

import os
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


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of one process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int | None = None) -> float:
    """Proportional set size in MB: resident memory with each shared page divided among the processes
    sharing it, so that the processes of one app add up without counting a library twice."""
    try:
        for line in Path(f"/proc/{pid or os.getpid()}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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
