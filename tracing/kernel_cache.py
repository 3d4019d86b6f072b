"""Numba's on-disk kernel cache, made safe for several processes at once.

Numba keeps one index file (``.nbi``) per function and source line, naming a numbered data file
(``.nbc``) per compiled signature. ``IndexDataCacheFile.save`` reads the index, takes the first
free number, writes the index and then the data, with no lock between processes (numba issue
#10128, still open). The engine's factories (``_make_rows``, ``_make_labelled``,
``_make_replay``) make one closure per rule at one source line, so two processes compiling, say,
haircut's and LIBR's ``replay_rows`` both take number 1: the index ends naming one rule's key
and the other rule's code, and a later process runs the wrong kernel (silently wrong figures)
or crashes. Holding an ``flock`` on ``<index>.lock`` across the read-modify-write (shared while
loading) makes the number each key gets, and the code behind it, that key's own.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

_MARK = "_moneytrail_locked"
_F = TypeVar("_F", bound=Callable[..., Any])


@contextlib.contextmanager
def _locked(index_path: str, operation: int) -> Iterator[None]:
    try:
        fd = os.open(f"{index_path}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        # A cache directory we may not write to: numba itself only reads there, unlocked.
        yield
        return
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _wrap(method: Callable[..., Any], operation: int) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_path = getattr(self, "_index_path", None)
        if not isinstance(index_path, str):
            return method(self, *args, **kwargs)
        with _locked(index_path, operation):
            return method(self, *args, **kwargs)

    setattr(locked, _MARK, True)
    return locked


def install() -> bool:
    """Lock numba's cache index around its reads and writes; ``True`` once it is in place.

    Idempotent. A numba without ``IndexDataCacheFile`` (or its methods) is left as it is.
    """
    try:
        # numba's internals, not its API: another version may lack them
        from numba.core.caching import IndexDataCacheFile
    except ImportError:
        return False
    methods = {"save": fcntl.LOCK_EX, "flush": fcntl.LOCK_EX, "load": fcntl.LOCK_SH}
    if not all(callable(getattr(IndexDataCacheFile, name, None)) for name in methods):
        return False
    for name, operation in methods.items():
        method = getattr(IndexDataCacheFile, name)
        if not getattr(method, _MARK, False):
            setattr(IndexDataCacheFile, name, _wrap(method, operation))
    return True


def variant(rule: ModuleType, *flags: bool) -> Callable[[_F], _F]:
    """Name a factory's closure after its rule and flags (put it under ``@nb.njit(...)``).

    Numba names a cache's files by qualname and line, so each variant gets files of its own:
    different rules' kernels then never share an index, lock or not.
    """
    suffix = "_".join([rule.__name__.rpartition(".")[2], *(str(int(flag)) for flag in flags)])

    def name(function: _F) -> _F:
        function.__qualname__ = f"{function.__qualname__}_{suffix}"
        return function

    return name
