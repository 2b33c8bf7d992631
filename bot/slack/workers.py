"""Small concurrency helpers: a countable thread pool, per-key locks and a TTL dedupe set."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class WorkPool(ThreadPoolExecutor):
    """A thread pool that knows how much work is in flight, so tests and shutdown can wait."""

    def __init__(self, max_workers: int, name: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._pending = 0
        self._cond = threading.Condition()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run fn later; exceptions are logged with the function name instead of vanishing."""
        with self._cond:
            self._pending += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                context = repr(args)[:600]
                log.exception("slack task %s failed; args=%s", getattr(fn, "__name__", fn), context)
                return None
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        return super().submit(run)

    @property
    def pending(self) -> int:
        """Tasks queued or running."""
        return self._pending

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no task is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


class KeyedLocks:
    """One lock per conversation, so two messages in a thread are handled in order."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> threading.Lock:
        """The lock for key (created on first use; at most a few thousand live keys)."""
        with self._guard:
            if len(self._locks) > 5000:
                for k in [k for k, v in self._locks.items() if not v.locked()][:2500]:
                    del self._locks[k]
            return self._locks.setdefault(key, threading.Lock())


class TtlSet:
    """Remembers keys for a while: the first claim wins, repeats (Slack retries) lose."""

    def __init__(self, ttl_s: float = 3600.0, max_items: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, *keys: str) -> bool:
        """Record all keys; True only if none was seen within the TTL."""
        now = time.monotonic()
        keys = tuple(k for k in keys if k)
        with self._lock:
            while self._items:
                oldest, stamp = next(iter(self._items.items()))
                if now - stamp < self.ttl_s and len(self._items) <= self.max_items:
                    break
                self._items.pop(oldest)
            seen = any(k in self._items for k in keys)
            for key in keys:
                self._items[key] = now
            return not seen
