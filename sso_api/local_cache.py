"""A small, bounded, thread-safe cache held in one process's memory.

It serves the hot path of Entra bearer authentication, where a shared cache (one network
round trip) would cost more than the work it saves: validated access tokens, and the user
each account speaks for. Every entry has its own deadline, and the least recently used
entry goes first once the cache is full, so memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class LocalCache(Generic[Value]):
    """At most ``max_entries`` values, each until its own deadline (``time.monotonic()``).

    ``group`` optionally tags an entry (a user's primary key, say) so that
    :meth:`forget_group` can drop every entry with that tag at once.
    """

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Value, Hashable]] = OrderedDict()
        self._keys_by_group: dict[Hashable, set[Hashable]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Value | None:
        """The value under ``key``, or None when there is none or its deadline passed."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            deadline, value, _group = entry
            if deadline <= self._clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: Hashable, value: Value, *, seconds: float, group: Hashable = None) -> None:
        """Keep ``value`` under ``key`` for ``seconds`` (nothing is kept when not positive,
        and an earlier value under ``key`` is dropped then too)."""
        if seconds <= 0 or self.max_entries <= 0:
            self.forget(key)
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (self._clock() + seconds, value, group)
            if group is not None:
                self._keys_by_group.setdefault(group, set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))

    def forget(self, key: Hashable) -> None:
        """Drop the entry under ``key``, if any."""
        with self._lock:
            self._drop(key)

    def forget_group(self, group: Hashable) -> None:
        """Drop every entry tagged ``group``."""
        with self._lock:
            for key in list(self._keys_by_group.get(group, ())):
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._keys_by_group.clear()

    def _drop(self, key: Hashable) -> None:
        """Remove ``key`` and its group tag; the caller holds the lock."""
        entry = self._entries.pop(key, None)
        if entry is None or entry[2] is None:
            return
        keys = self._keys_by_group.get(entry[2])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_group[entry[2]]

    def __len__(self) -> int:
        return len(self._entries)
