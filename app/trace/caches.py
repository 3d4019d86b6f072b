"""Caches the trace runtime keeps, each bounded by a count and by bytes (see settings).

A long-running service must not grow with its traffic: every entry states its size when it is
put, and the least recently used entries leave once either bound is passed. An entry larger
than the whole byte bound is not kept at all.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    size: int
    # The ledger a value holds on to (an engine result keeps its ledger alive), if any.
    pins: str | None


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU map bounded by `max_items` and by `max_bytes` (sizes as given).

    A read of the key read last takes neither the lock nor the map: a masked trace looks its
    mask up on every call, a caller's traces follow one another, and the lock and the map were
    most of that lookup. The least recently used order stays that of one thread's reads: a read
    of the same key again would not change it, any other read takes the lock and moves its key,
    and every write forgets the last read (under the lock, so no read brings back a replaced
    or dropped value).
    """

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_items, self.max_bytes = max_items, max_bytes
        self.bytes = 0
        self._last: tuple[K, V] | None = None  # the key read last and its value

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            self._last = (key, entry.value)
            return entry.value

    def put(self, key: K, value: V, *, size: int, pins: str | None = None) -> None:
        with self._lock:
            self._last = None
            self._drop(key)
            if self.max_items <= 0 or size > self.max_bytes:
                return
            self._entries[key] = _Entry(value, size, pins)
            self.bytes += size
            while len(self._entries) > self.max_items or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def get_or_make(self, key: K, make: Callable[[], V], size: Callable[[V], int]) -> V:
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found, size=size(found))
        return found

    def unpin(self, keep: str) -> None:
        """Drop the entries that hold a ledger other than `keep` (so old ledgers can go)."""
        with self._lock:
            self._last = None
            for key in [k for k, e in self._entries.items() if e.pins not in (None, keep)]:
                self._drop(key)

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size
