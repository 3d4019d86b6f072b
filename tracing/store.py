"""Ledgers on disk, mapped back into memory, so that several processes share one index.

:func:`save` writes a ledger's integer columns, CSR adjacency and hash tables as NumPy files
and its two string columns as an Arrow IPC file; :func:`load` maps the NumPy files back
copy-on-write, so every process that loads the same directory shares their pages (a page
written to is copied for that process alone). The string columns are read into memory: Polars
keeps strings in its own layout, which a file cannot be mapped as.

A directory appears whole or not at all: it is written under a temporary name beside its
final one, synced, then renamed, so a reader never maps a half-written index.

A replay order (:mod:`tracing.order`) of a loaded ledger is kept the same way, in a directory
of its own inside the ledger's (:func:`order`): the first process to need it computes and
writes it, every process maps it, so N workers hold one copy instead of N.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tracing.index import Adjacency, HashIndex
from tracing.ledger import Ledger
from tracing.order import Order, build_order
from tracing.params import SameDayPolicy
from tracing.schema import ACCOUNT, EXTERNAL_ID

FORMAT = 1
_COLUMNS = ("src", "dst", "amount", "time", "seq", "tx_currency", "node_account")
_COLUMNS_MORE = ("node_currency", "degree")
_ADJACENCY = ("out_ptr", "out_idx", "in_ptr", "in_idx")
_HASH_TABLES = ("keys", "checks", "t_key", "t_check", "t_id")
_META, _STRINGS, _KEYS = "meta.json", "external_ids.arrow", "account_keys.arrow"


def _arrays(ledger: Ledger) -> dict[str, np.ndarray]:
    found = {name: getattr(ledger, name) for name in (*_COLUMNS, *_COLUMNS_MORE)}
    found.update({f"adj.{name}": getattr(ledger.adj, name) for name in _ADJACENCY})
    for owner, table in (("accounts", ledger._accounts), ("nodes", ledger._node_index)):
        found.update({f"{owner}.{name}": getattr(table, name) for name in _HASH_TABLES})
    return found


def _write(directory: Path, fill: Callable[[Path], None]) -> None:
    """Make ``directory`` whole or not at all.

    ``fill`` writes a temporary one, renamed once synced (a rename onto a directory that exists
    fails: another process made it first).
    """
    temporary = directory.with_name(f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp")
    # Not parents=True: a directory removed meanwhile (an old index pruned) stays removed.
    temporary.mkdir()
    try:
        fill(temporary)
        for path in temporary.iterdir():
            _sync(path)
        _sync(temporary)
        os.rename(temporary, directory)
        _sync(directory.parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _mapped(path: Path) -> np.ndarray:
    array: np.ndarray = np.load(path, mmap_mode="c")
    # A plain ndarray over the mapping: the compiled kernels see the type they were built for.
    return array.view(np.ndarray)


_ORDER = ("ev_tx", "wd_rank", "dep_rank", "out_idx", "out_rank", "in_idx", "in_rank", "day_start")


def order(ledger: Ledger, directory: Path, policy: SameDayPolicy) -> Order:
    """Return the replay order of ``policy`` over ``ledger``, mapped from ``directory``.

    ``ledger`` is the one :func:`load` mapped from ``directory``; the order is mapped from
    ``<directory>/order.<policy>`` (computed and written there first if no process did yet).
    Arrays the order shares with the ledger are the ledger's own.

    Where the directory cannot take it (removed, read-only), the order computed stays private.
    """
    target = directory / f"order.{policy.value}"
    if not target.is_dir():
        built = build_order(ledger, policy)
        if not _write_order(ledger, built, target):
            return built
    meta = json.loads((target / _META).read_text())
    mine, loaded = _arrays(ledger), dict[str, np.ndarray]()

    def get(name: str) -> np.ndarray:
        if name in meta["same"]:
            return mine[meta["same"][name]]
        file = meta["files"][name]
        if file not in loaded:
            loaded[file] = _mapped(target / f"{file}.npy")
        return loaded[file]

    aligned = {f: (get(f"far.{int(f)}"), get(f"arrive.{int(f)}")) for f in (True, False)}
    ranks: dict[str, Any] = {name: get(name) for name in _ORDER}
    return Order(policy, **ranks, time=ledger.time, _aligned=aligned)


def _write_order(ledger: Ledger, built: Order, target: Path) -> bool:
    """Write ``built`` as ``target``; False where it cannot be (nor was by another process).

    Each distinct array is one file; one that is the ledger's own is named, not copied.
    """
    named = {name: getattr(built, name) for name in _ORDER}
    for forward in (True, False):
        far, arrive = built.aligned(ledger.src, ledger.dst, forward=forward)
        named.update({f"far.{int(forward)}": far, f"arrive.{int(forward)}": arrive})
    own = {id(array): name for name, array in _arrays(ledger).items()}
    same: dict[str, str] = {}
    files: dict[str, str] = {}
    first: dict[int, str] = {}
    for name, array in named.items():
        if id(array) in own:
            same[name] = own[id(array)]
        else:
            files[name] = first.setdefault(id(array), name)

    def fill(temporary: Path) -> None:
        for name in set(files.values()):
            array = np.ascontiguousarray(named[name])
            np.save(temporary / f"{name}.npy", array, allow_pickle=False)
        (temporary / _META).write_text(json.dumps({"same": same, "files": files}))

    try:
        _write(target, fill)
    except OSError:
        return target.is_dir()  # another process's rename won the race: map that one
    return True


def save(ledger: Ledger, directory: Path) -> None:
    """Write ``ledger`` to ``directory``, which must not exist yet (it appears whole).

    Parameters
    ----------
    ledger
        The ledger to write.
    directory
        Where: created by a rename once every file is written and synced.

    Example
    -------
    >>> save(ledger, Path("index") / ledger.fingerprint)  # doctest: +SKIP
    """
    directory.parent.mkdir(parents=True, exist_ok=True)

    def fill(temporary: Path) -> None:
        for name, array in _arrays(ledger).items():
            np.save(temporary / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        pl.DataFrame([ledger.external_ids.rename(EXTERNAL_ID)]).write_ipc(temporary / _STRINGS)
        pl.DataFrame([ledger.account_keys.rename(ACCOUNT)]).write_ipc(temporary / _KEYS)
        meta = {
            "format": FORMAT,
            "fingerprint": ledger.fingerprint,
            "currencies": list(ledger.currencies),
            "decimals": ledger.decimals,
            "opening": [[a, c, v] for (a, c), v in sorted(ledger._opening.items())],
        }
        (temporary / _META).write_text(json.dumps(meta))

    _write(directory, fill)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(directory: Path) -> Ledger:
    """Map a ledger written by :func:`save` (its arrays shared, copy-on-write).

    Parameters
    ----------
    directory
        A directory :func:`save` wrote.

    Returns
    -------
    Ledger
        Equal to the ledger saved, fingerprint included; ``append`` works on it.

    Example
    -------
    >>> load(Path("index") / fingerprint).fingerprint == fingerprint  # doctest: +SKIP
    True
    """
    meta = json.loads((directory / _META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory} holds a ledger index of another format")

    def mapped(name: str) -> np.ndarray:
        return _mapped(directory / f"{name}.npy")

    led = Ledger()
    for name in (*_COLUMNS, *_COLUMNS_MORE):
        setattr(led, name, mapped(name))
    led.adj = Adjacency(*(mapped(f"adj.{name}") for name in _ADJACENCY))
    led._accounts = HashIndex(*(mapped(f"accounts.{name}") for name in _HASH_TABLES))
    led._node_index = HashIndex(*(mapped(f"nodes.{name}") for name in _HASH_TABLES))
    led.external_ids = pl.read_ipc(directory / _STRINGS).get_column(EXTERNAL_ID)
    led.account_keys = pl.read_ipc(directory / _KEYS).get_column(ACCOUNT)
    led.currencies = tuple(meta["currencies"])
    led.decimals = dict(meta["decimals"])
    led._opening = {(a, c): int(v) for a, c, v in meta["opening"]}
    led.fingerprint = meta["fingerprint"]
    led._store = directory  # its replay orders are kept there too (see order)
    return led
