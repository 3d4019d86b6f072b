"""A cache bounded by entry count and by bytes, least recently used out first.

For values that never change once computed (a key in canonical form). Byte sizes are what the
caller declares for a key and its value, not Python's whole object overhead: the bound holds the
cache's growth to a known multiple of its budget, whatever the clients send.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
# Python's own per-entry cost (dict slot, tuple, object headers) on top of the declared sizes.
ENTRY_OVERHEAD = 200


class BoundedCache(Generic[K, V]):
    def __init__(self, *, max_entries: int, max_bytes: int, size_of: Callable[[K, V], int]) -> None:
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._size_of = size_of
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def resize(self, *, max_entries: int, max_bytes: int) -> None:
        with self._lock:
            self.max_entries, self.max_bytes = max_entries, max_bytes
            self._evict()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> None:
        """Keep `value` for `key`, replacing what was kept; one larger than the whole budget
        is not kept."""
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            if (old := self._items.pop(key, None)) is not None:
                self.bytes -= old[1]
            if size <= self.max_bytes and self.max_entries > 0:
                self._items[key] = (value, size)
                self.bytes += size
                self._evict()

    def discard(self, key: K) -> None:
        with self._lock:
            if (old := self._items.pop(key, None)) is not None:
                self.bytes -= old[1]

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
        found = self.get(key)
        if found is not None:
            return found
        value = compute(key)  # outside the lock: two threads may compute the same value once each
        size = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            if key not in self._items and size <= self.max_bytes and self.max_entries > 0:
                self._items[key] = (value, size)
                self.bytes += size
                self._evict()
        return value

    def _evict(self) -> None:
        while self._items and (len(self._items) > self.max_entries or self.bytes > self.max_bytes):
            _, (_, size) = self._items.popitem(last=False)
            self.bytes -= size
