"""Numba's kernel cache under processes that compile side by side (tracing.kernel_cache)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from numba.core import caching
from numba.core.caching import IndexDataCacheFile

# importing the engine (any of it) puts the lock in place
from tracing import kernel_cache
from tracing.dense import ROWS
from tracing.labelled import LABELLED
from tracing.replay import REPLAYS

HAIRCUT_KEY, LIBR_KEY = ("replay_rows", "haircut"), ("replay_rows", "libr")
WAIT = 30  # seconds; only reached if the test itself is broken
ROOT = Path(__file__).resolve().parents[2]


def test_two_savers_each_load_their_own_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes (here threads, each with its own view of the files, as a process has)
    # compile two rules' closures of one source line at once. Without a lock both read the
    # empty index, both take data file 1, and the index ends naming LIBR's key with haircut's
    # code: the order below (read, read, index, index, data, data) is the one that does it.
    first_read, first_indexed = threading.Event(), threading.Event()
    second_read, second_done = threading.Event(), threading.Event()
    load_index, save_index, save_data, flock = (
        IndexDataCacheFile._load_index,
        IndexDataCacheFile._save_index,
        IndexDataCacheFile._save_data,
        fcntl.flock,
    )

    def is_second() -> bool:
        return threading.current_thread().name == "second"

    def paused_load_index(self: IndexDataCacheFile) -> Any:
        overloads = load_index(self)
        if is_second():
            second_read.set()
            assert first_indexed.wait(WAIT)
        else:
            first_read.set()
            assert second_read.wait(WAIT)
        return overloads

    def noted_save_index(self: IndexDataCacheFile, overloads: dict[Any, str]) -> None:
        save_index(self, overloads)
        if not is_second():
            first_indexed.set()

    def paused_save_data(self: IndexDataCacheFile, name: str, data: Any) -> None:
        if not is_second():
            assert second_done.wait(WAIT)
        save_data(self, name, data)

    def noted_flock(fd: int, operation: int) -> None:
        if is_second() and operation == fcntl.LOCK_EX:
            # the second waits its turn here: let the first go on
            second_read.set()
            second_done.set()
        flock(fd, operation)

    monkeypatch.setattr(IndexDataCacheFile, "_load_index", paused_load_index)
    monkeypatch.setattr(IndexDataCacheFile, "_save_index", noted_save_index)
    monkeypatch.setattr(IndexDataCacheFile, "_save_data", paused_save_data)
    monkeypatch.setattr(fcntl, "flock", noted_flock)

    def save(key: tuple[str, str], code: str) -> None:
        if is_second():
            assert first_read.wait(WAIT)
        IndexDataCacheFile(str(tmp_path), "dense.replay_rows-90", "stamp").save(key, code)
        if is_second():
            second_done.set()

    first = threading.Thread(target=save, args=(HAIRCUT_KEY, "haircut code"), name="first")
    second = threading.Thread(target=save, args=(LIBR_KEY, "libr code"), name="second")
    first.start()
    second.start()
    first.join(WAIT)
    second.join(WAIT)
    monkeypatch.undo()

    reader = IndexDataCacheFile(str(tmp_path), "dense.replay_rows-90", "stamp")
    assert reader.load(LIBR_KEY) == "libr code"
    assert reader.load(HAIRCUT_KEY) == "haircut code"


def test_the_lock_is_put_in_place_once() -> None:
    save = IndexDataCacheFile.save
    assert kernel_cache.install()
    assert IndexDataCacheFile.save is save
    assert getattr(save, "_moneytrail_locked", False)


def test_a_numba_without_the_cache_class_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(caching, "IndexDataCacheFile")
    assert not kernel_cache.install()


def test_each_rule_s_kernel_has_cache_files_of_its_own() -> None:
    # the factories' closures share a source line; their index files must not be shared
    kernels = [*ROWS.values(), *LABELLED.values(), *REPLAYS.values()]
    indexes = {kernel._cache._cache_file._index_path for kernel in kernels}
    assert len(indexes) == len(kernels) == 13


_LOAD_LABELLED = """
from app.trace.lifecycle import _warm_claimants, _warm_ledger_frame
from tracing import Ledger, trace
from tracing.labelled import LABELLED
ledger = Ledger.from_frame(_warm_ledger_frame())
for params in _warm_claimants():
    trace(ledger, params)
print(sum(k.stats.cache_misses.get(s, 0) for k in LABELLED.values() for s in k.signatures))
"""


def test_a_second_process_loads_the_labelled_kernels_from_the_cache() -> None:
    # The labelled replays once held a compiled helper in their closure: Numba's cache key
    # pickles a closure's cells, a dispatcher pickles with a fresh id in every process, so
    # every process compiled the six kernels again (5-7 s each) and grew their cache files.
    run = [sys.executable, "-c", _LOAD_LABELLED]
    first = subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT)
    second = subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT)
    assert int(first.stdout.split()[-1]) >= 0
    assert int(second.stdout.split()[-1]) == 0, second.stdout
