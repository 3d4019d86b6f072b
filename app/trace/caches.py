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

    Writers take the lock; a read does not: a masked trace looks its mask up on every call,
    and the lock was a fifth of that lookup. Under the GIL each `OrderedDict` operation is
    one step, so a read sees an entry or none; writers never iterate the map while a reader
    may reorder it (`popitem`, and `unpin` reads a copy of it).
    """

    def __init__(self, *, max_items: int, max_bytes: int) -> None:
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_items, self.max_bytes = max_items, max_bytes
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs more than the lookup's lock did
            self._entries.move_to_end(key)
        except KeyError:  # dropped by a writer meanwhile: still a valid value
            pass
        return entry.value

    def put(self, key: K, value: V, *, size: int, pins: str | None = None) -> None:
        with self._lock:
            self._drop(key)
            if self.max_items <= 0 or size > self.max_bytes:
                return
            self._entries[key] = _Entry(value, size, pins)
            self.bytes += size
            while len(self._entries) > self.max_items or self.bytes > self.max_bytes:
                self.bytes -= self._entries.popitem(last=False)[1].size  # the least recent

    def get_or_make(self, key: K, make: Callable[[], V], size: Callable[[V], int]) -> V:
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found, size=size(found))
        return found

    def unpin(self, keep: str) -> None:
        """Drop the entries that hold a ledger other than `keep` (so old ledgers can go)."""
        with self._lock:
            for key, entry in list(self._entries.items()):  # a copy: readers reorder
                if entry.pins not in (None, keep):
                    self._drop(key)

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size
