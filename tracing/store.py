"""Ledgers on disk, mapped back into memory, so that several processes share one index.

:func:`save` writes a ledger's integer columns, CSR adjacency and hash tables as NumPy files
and its two string columns as an Arrow IPC file; :func:`load` maps the NumPy files back
copy-on-write, so every process that loads the same directory shares their pages (a page
written to is copied for that process alone). The string columns are read into memory: Polars
keeps strings in its own layout, which a file cannot be mapped as.

A directory appears whole or not at all: it is written under a temporary name beside its
final one, synced, then renamed, so a reader never maps a half-written index.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import polars as pl

from tracing.index import HashIndex
from tracing.ledger import Adjacency, Ledger
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
    temporary = directory.with_name(f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.mkdir(parents=True)
    try:
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
        for path in temporary.iterdir():
            _sync(path)
        _sync(temporary)
        os.rename(temporary, directory)
        _sync(directory.parent)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


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
        array: np.ndarray = np.load(directory / f"{name}.npy", mmap_mode="c")
        # A plain ndarray over the mapping: the compiled kernels see the type they were built for.
        return array.view(np.ndarray)

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
    return led
