"""A hybrid logical clock: wall milliseconds, a counter, and the device id that breaks ties.

A stamp is kept as one fixed-width string (``wall-counter-device``) so that comparing two
strings byte by byte orders them exactly as the clock does; the server can then compare
stamps in SQL without parsing them (the column uses the C collation on PostgreSQL).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WALL_DIGITS = 15  # milliseconds since 1970 until the year 33658
COUNTER_DIGITS = 6
MAX_COUNTER = 10**COUNTER_DIGITS - 1
_DEVICE = re.compile(r"^[0-9a-f]{32}$")
_STAMP = re.compile(rf"^(\d{{{WALL_DIGITS}}})-(\d{{{COUNTER_DIGITS}}})-([0-9a-f]{{32}})$")


class ClockError(ValueError):
    """A stamp that cannot be read, or a clock that cannot move forward."""


def device_key(device_id: str) -> str:
    """The device part of a stamp: its UUID as 32 lowercase hex digits (fixed width)."""
    key = device_id.replace("-", "").lower()
    if not _DEVICE.match(key):
        raise ClockError(f"a device id must be a UUID, not {device_id!r}")
    return key


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    wall_ms: int
    counter: int
    device: str  # 32 hex digits

    def __str__(self) -> str:
        return f"{self.wall_ms:0{WALL_DIGITS}d}-{self.counter:0{COUNTER_DIGITS}d}-{self.device}"

    @classmethod
    def parse(cls, text: str) -> Stamp:
        match = _STAMP.match(text) if isinstance(text, str) else None
        if not match:
            raise ClockError(f"not a clock stamp: {text!r}")
        return cls(int(match[1]), int(match[2]), match[3])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class HybridClock:
    """One device's clock. ``tick`` stamps a local change; ``observe`` takes in a stamp seen from elsewhere.

    Every stamp it gives is greater than every stamp it gave or observed before, so a change made
    after seeing another device's change always wins over it, whatever the two wall clocks say.
    """

    def __init__(self, device_id: str, wall: Callable[[], int] = now_ms, last: Stamp | None = None):
        self.device = device_key(device_id)
        self._wall = wall
        self._last = last or Stamp(0, 0, self.device)
        self._lock = threading.Lock()

    @property
    def last(self) -> Stamp:
        return self._last

    def tick(self) -> Stamp:
        with self._lock:
            wall = self._wall()
            if wall > self._last.wall_ms:
                stamp = Stamp(wall, 0, self.device)
            else:
                stamp = self._next(self._last.wall_ms, self._last.counter)
            self._last = stamp
            return stamp

    def observe(self, seen: Stamp | str) -> None:
        seen = Stamp.parse(seen) if isinstance(seen, str) else seen
        with self._lock:
            if (seen.wall_ms, seen.counter) > (self._last.wall_ms, self._last.counter):
                self._last = Stamp(seen.wall_ms, seen.counter, self.device)

    def _next(self, wall: int, counter: int) -> Stamp:
        if counter >= MAX_COUNTER:  # a million changes in one millisecond: borrow the next millisecond
            return Stamp(wall + 1, 0, self.device)
        return Stamp(wall, counter + 1, self.device)
