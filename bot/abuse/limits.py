"""Sliding-window counters per key, in memory: cheap enough to run before every message."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class SlidingWindow:
    """How many events each key had in the last `window_s` seconds (thread-safe)."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Record one event and return the count inside the window, this one included."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - self.window_s:
                events.popleft()
            events.append(now)
            return len(events)

    def count(self, key: str, now: float | None = None) -> int:
        """Events inside the window, without recording one."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(1 for t in self._events.get(key, ()) if t > now - self.window_s)


class Cooldowns:
    """Keys held back until a deadline; `start` says whether this is a new cooldown."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def active(self, key: str, now: float | None = None) -> bool:
        """True while the key is cooling down."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._until.get(key, 0.0) > now

    def start(self, key: str, seconds: float, now: float | None = None) -> bool:
        """Begin (or extend) a cooldown; True when the key was not cooling down already."""
        now = time.monotonic() if now is None else now
        with self._lock:
            fresh = self._until.get(key, 0.0) <= now
            self._until[key] = max(self._until.get(key, 0.0), now + seconds)
            return fresh


class KeyedLocks:
    """One lock per key (a member): check-then-create steps of one member never interleave."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def get(self, key: str) -> threading.Lock:
        """The lock of `key`, created on first use."""
        with self._guard:
            return self._locks[key]
