"""The trace runtime's caches stay within their count and byte bounds (issue 23)."""

import sys
import threading

from app.settings import Settings
from app.trace.caches import BoundedCache


def test_the_least_recently_used_leave_once_the_count_is_passed() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_items=2, max_bytes=1000)
    cache.put("a", 1, size=10)
    cache.put("b", 2, size=10)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3, size=10)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert (len(cache), cache.bytes) == (2, 20)


def test_bytes_bound_the_cache_and_an_entry_too_large_is_not_kept() -> None:
    cache: BoundedCache[str, str] = BoundedCache(max_items=10, max_bytes=100)
    cache.put("a", "x", size=60)
    cache.put("b", "y", size=60)
    assert (cache.get("a"), cache.get("b"), cache.bytes) == (None, "y", 60)
    cache.put("huge", "z", size=101)
    assert (cache.get("huge"), cache.get("b"), cache.bytes) == (None, "y", 60)
    cache.put("b", "y2", size=30)  # replaced, not counted twice
    assert (cache.get("b"), cache.bytes, len(cache)) == ("y2", 30, 1)


def test_entries_holding_an_old_ledger_go_when_the_ledger_changes() -> None:
    cache: BoundedCache[str, str] = BoundedCache(max_items=10, max_bytes=100)
    cache.put("engine", "r1", size=1, pins="old")
    cache.put("stored", "r2", size=1)
    cache.put("current", "r3", size=1, pins="new")
    cache.unpin("new")
    assert (cache.get("engine"), cache.get("stored"), cache.get("current")) == (None, "r2", "r3")
    assert cache.get_or_make("made", lambda: "v", len) == "v"
    assert cache.get_or_make("made", lambda: "other", len) == "v"


def test_the_bounds_are_settings_and_one_worker_keeps_its_ledger_to_itself() -> None:
    settings = Settings(trace_result_cache_items=0)
    cache: BoundedCache[str, int] = BoundedCache(
        max_items=settings.trace_result_cache_items, max_bytes=settings.trace_result_cache_bytes
    )
    cache.put("a", 1, size=1)
    assert cache.get("a") is None
    assert not settings.shares_ledger_index
    assert Settings(workers=2).shares_ledger_index


def test_the_key_read_last_is_answered_as_the_map_would() -> None:
    # a read of the key read last skips the lock and the map: the order of use, a replaced
    # value and an unpinned entry must come out as without that shortcut
    cache: BoundedCache[str, str] = BoundedCache(max_items=2, max_bytes=100)
    cache.put("a", "1", size=1, pins="old")
    cache.put("b", "2", size=1)
    assert (cache.get("a"), cache.get("a"), cache.get("b")) == ("1", "1", "2")
    cache.put("c", "3", size=1)  # a was used before b: a leaves
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "2", "3")
    cache.put("c", "3b", size=1)
    assert cache.get("c") == "3b"
    cache.put("a", "1", size=1, pins="old")
    assert cache.get("a") == "1"
    cache.unpin("new")
    assert (cache.get("a"), len(cache)) == (None, 1)


def test_reads_without_the_lock_race_writers_and_the_bounds_hold() -> None:
    # a read of the key read last takes no lock (a masked trace looks its mask up on every
    # call): readers racing writers that evict and unpin must neither fail, nor see a value
    # not put under their key, nor break the bounds
    cache: BoundedCache[int, int] = BoundedCache(max_items=8, max_bytes=80)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                for key in range(16):
                    found = cache.get(key)
                    assert found is None or found == key
        except BaseException as error:
            errors.append(error)

    def write() -> None:
        try:
            for round_ in range(10000):
                cache.put(round_ % 16, round_ % 16, size=5 + round_ % 7, pins=str(round_ % 3))
                if round_ % 50 == 0:
                    cache.unpin(str(round_ % 3))
        except BaseException as error:
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        readers = [threading.Thread(target=read) for _ in range(3)]
        writers = [threading.Thread(target=write) for _ in range(2)]
        for thread in readers + writers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        for thread in readers:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(cache) <= 8
    assert cache.bytes <= 80
    assert cache.bytes == sum(entry.size for entry in cache._entries.values())
