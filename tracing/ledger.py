"""The indexed columnar ledger the engine traces over.

Transactions are held in canonical order ``(value time, sequence, external id)`` as integer
NumPy columns; their position in that order is the transaction's index. Accounts are split by
currency into *nodes* ``(account, currency)`` so that currencies never mix. Each node has a
CSR index of its outgoing and incoming transactions in event order, so "outgoing transactions of
``u`` at or after ``t``" is a binary search, never a scan of the ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from tracing import index, merge
from tracing.balances import parse_opening_balances
from tracing.errors import InvalidLedger, SchemaMismatch
from tracing.graph import Workspaces
from tracing.index import Adjacency
from tracing.schema import (
    ACCOUNT,
    AMOUNT,
    CURRENCY,
    EXTERNAL_ID,
    FROM_ACCOUNT,
    MINOR,
    SEQUENCE,
    TIME_US,
    TO_ACCOUNT,
    conform_transactions,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tracing.order import Order
    from tracing.params import SameDayPolicy

I64 = index.I64
_CURRENCY_BITS = 16
# Content streams of the fingerprint: row columns, plus account keys, currency codes and
# (account, currency) nodes in first-seen order, and each row's source and destination node.
_HASHED = (EXTERNAL_ID, MINOR, TIME_US, SEQUENCE)
_STREAMS = (*_HASHED, "accounts", "currencies", "nodes", "src", "dst")
# Rows per step where a whole column's temporaries would otherwise coexist (hashing 20M
# account endpoints at once needs about 1 GiB of scratch at 10M rows).
_CHUNK_ROWS = 1 << 20
# Lookups of at most this many account keys (or transaction ids) are remembered per ledger,
# up to a bound.
_FEW_KEYS, _SEEN_KEYS_MAX = 64, 4096
K = TypeVar("K", str, tuple[str, str])


def _hash_rows(hashers: dict[str, Any], rows: pl.DataFrame) -> None:
    # One stream per column (and one for string lengths): appending rows continues each
    # stream, so a ledger grown by appends hashes like one built at once. Strings are fed in
    # chunks so that no copy of a whole column is ever made.
    for name in _HASHED:
        column = rows.get_column(name)
        if column.dtype == pl.String:
            _hash_strings(hashers, name, column)
        else:
            hashers[name].update(_raw(column.to_numpy(), "<i8"))


def _raw(values: np.ndarray, dtype: str) -> memoryview:
    # The bytes hashed as they lie when already of that type and contiguous: a whole column is
    # not copied (``astype(...).tobytes()`` copied it twice).
    return np.ascontiguousarray(values, dtype=dtype).data.cast("B")


def _hash_strings(hashers: dict[str, Any], name: str, column: pl.Series) -> None:
    for lo in range(0, len(column), _CHUNK_ROWS):
        part = column.slice(lo, _CHUNK_ROWS)
        hashers[name + ".len"].update(_raw(part.str.len_bytes().cast(pl.UInt32).to_numpy(), "<u4"))
        hashers[name].update(part.str.join("").item().encode())


def _remembered(seen: dict[K, int], keys: Sequence[K], lookup: Callable[[Sequence[K]], I64]) -> I64:
    """``lookup(keys)``, answered from and added to ``seen`` (shared by threads: read once)."""
    found = [seen.get(k, -2) for k in keys]
    if -2 in found:
        missing = list(dict.fromkeys(k for k, v in zip(keys, found, strict=True) if v == -2))
        fresh = dict(zip(missing, lookup(missing).tolist(), strict=True))
        found = [fresh.get(k, v) if v == -2 else v for k, v in zip(keys, found, strict=True)]
        if len(seen) > _SEEN_KEYS_MAX:
            seen.clear()
        seen.update(fresh)
    return np.array(found, np.int64)


class _Batch:
    """Conformed rows handed to the index.

    The index drops the account key columns (the largest) once their ids are known, so they
    are freed while the rest is built.
    """

    __slots__ = ("rows",)

    def __init__(self, rows: pl.DataFrame) -> None:
        self.rows = rows

    def take_endpoints(self) -> tuple[pl.Series, pl.Series]:
        sources, targets = self.rows.get_column(FROM_ACCOUNT), self.rows.get_column(TO_ACCOUNT)
        self.rows = self.rows.drop(FROM_ACCOUNT, TO_ACCOUNT, CURRENCY)
        return sources, targets


_NOT_INHERITED = frozenset(
    ("_orders", "workspaces", "_seen_keys", "_seen_ids", "_seen_nodes", "columns", "_store")
)


class Ledger:
    """Transactions indexed for tracing; immutable (``append`` returns a new ledger).

    Build with :meth:`from_frame`. Amounts become integer minor units of their currency;
    ``currency_decimals`` gives the decimals per currency code (default 2).

    Example
    -------
    >>> from datetime import UTC, datetime
    >>> from decimal import Decimal
    >>> frame = pl.DataFrame(
    ...     {"external_id": ["T1"], "from_account": ["acct:1"], "to_account": ["acct:2"],
    ...      "amount": [Decimal("10.50")], "currency": ["EUR"],
    ...      "value_time": [datetime(2025, 1, 1, tzinfo=UTC)], "sequence": [1]},
    ...     schema_overrides={"amount": pl.Decimal(18, 2)})
    >>> ledger = Ledger.from_frame(frame)
    >>> ledger.n_transactions, ledger.n_accounts, ledger.currencies
    (1, 2, ('EUR',))
    """

    src: I64
    dst: I64
    amount: I64
    time: I64
    seq: I64
    tx_currency: I64
    external_ids: pl.Series
    account_keys: pl.Series
    node_account: I64
    node_currency: I64
    currencies: tuple[str, ...]
    decimals: dict[str, int]
    adj: Adjacency
    degree: I64
    fingerprint: str
    _accounts: index.HashIndex
    _node_index: index.HashIndex
    _opening: dict[tuple[str, str], int]
    _hashers: dict[str, Any]
    _orders: dict[SameDayPolicy, Order]
    workspaces: Workspaces

    def __init__(self) -> None:
        self._orders: dict[SameDayPolicy, Order] = {}
        self.workspaces = Workspaces()  # search scratch, one per thread
        self._seen_keys: dict[str, int] = {}  # see account_ids
        self._seen_ids: dict[str, int] = {}  # see positions_of
        self._seen_nodes: dict[tuple[str, str], int] = {}  # see nodes_of
        # The directory a ledger was mapped from (tracing.store.load): its orders are kept there.
        self._store: Path | None = None

    @cached_property
    def columns(self) -> index.LedgerColumns:
        """The transaction columns and CSR offsets as the compiled kernels take them."""
        adj = self.adj
        return index.LedgerColumns(
            self.src, self.dst, self.amount, self.time, self.tx_currency, adj.out_ptr, adj.in_ptr
        )

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        currency_decimals: Mapping[str, int] | None = None,
        opening_balances: pl.DataFrame | None = None,
    ) -> Ledger:
        """Index a transactions frame (see :data:`tracing.schema.TRANSACTIONS`).

        Parameters
        ----------
        frame
            Columns ``external_id, from_account, to_account, amount (Decimal), currency,
            value_time (tz-aware Datetime or Date)`` and optionally ``sequence``.
        currency_decimals
            Decimals of each currency's minor unit, e.g. ``{"EUR": 2, "JPY": 0, "BTC": 8}``.
        opening_balances
            Columns ``account, currency, amount``: known balances before each account's
            first record. They replace the inferred opening balance of those accounts.

        Returns
        -------
        Ledger

        Example
        -------
        >>> Ledger.from_frame(frame, currency_decimals={"EUR": 2}).n_transactions  # doctest: +SKIP
        1
        """
        data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        rows, codes, places = conform_transactions(data, currency_decimals)
        del data  # when collected here, the input's replaced columns are freed before indexing
        extra = dict(currency_decimals or {})
        table = {**{c: extra[c] for c in extra}, **dict(zip(codes, places, strict=True))}
        opening = parse_opening_balances(opening_balances, table)
        batch = _Batch(rows)
        del rows
        return cls._build(batch, table, opening)

    @classmethod
    def from_minor(
        cls,
        frame: pl.DataFrame | pl.LazyFrame,
        decimals: Mapping[str, int],
        *,
        opening_balances: pl.DataFrame | None = None,
    ) -> Ledger:
        """Index a transactions frame whose amounts are integer minor units.

        As :meth:`from_frame`, with an Int64 column ``amount_minor`` in place of ``amount``:
        what a database keeps, taken without a round trip through decimals. ``decimals``
        gives each currency's decimals (the fingerprint equals that of the same transactions
        given as decimals). :meth:`append` takes frames of either kind.

        Example
        -------
        >>> rows = frame.drop("amount").with_columns(amount_minor=pl.lit(1050))  # doctest: +SKIP
        >>> Ledger.from_minor(rows, {"EUR": 2}).amount.tolist()  # doctest: +SKIP
        [1050]
        """
        data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        if MINOR not in data.schema or AMOUNT in data.schema:
            raise SchemaMismatch(f"from_minor takes {MINOR} (integer minor units), not {AMOUNT}")
        return cls.from_frame(data, currency_decimals=decimals, opening_balances=opening_balances)

    @classmethod
    def _build(
        cls, batch: _Batch, decimals: dict[str, int], opening: dict[tuple[str, str], int]
    ) -> Ledger:
        led = cls()
        led._accounts = index.HashIndex.empty()
        led._node_index = index.HashIndex.empty()
        led.account_keys = pl.Series(ACCOUNT, [], pl.String)
        led.currencies = ()
        led.node_account = led.node_currency = np.empty(0, np.int64)
        led.decimals = decimals
        led._opening = opening
        led._hashers = {n: hashlib.sha256() for name in _STREAMS for n in (name, name + ".len")}
        led._add_rows(batch, adjacency=None)
        return led

    def append(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        currency_decimals: Mapping[str, int] | None = None,
    ) -> Ledger:
        """Return a new ledger with ``frame``'s transactions added.

        When every new transaction sorts after the last known one (the usual case: a new
        statement), the index is extended in one linear pass: no sort of old rows, the
        fingerprint is continued, and the result equals a ledger built from all rows at once.
        A few late rows (a statement of days past) are merged into place and what moved is
        renumbered (:mod:`tracing.merge`): linear passes, with the same result. A long batch
        sorting before the last row rebuilds the index, as :meth:`from_frame` would.

        Example
        -------
        >>> later = frame.with_columns(pl.lit("T2").alias("external_id"),
        ...                            pl.col("value_time").dt.offset_by("1d"))  # doctest: +SKIP
        >>> Ledger.from_frame(frame).append(later).n_transactions  # doctest: +SKIP
        2
        """
        data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        table = {**self.decimals, **dict(currency_decimals or {})}
        for code, places in (currency_decimals or {}).items():
            if code in self.decimals and self.decimals[code] != places:
                raise SchemaMismatch(f"decimals of {code} differ from the ledger's")
        rows, codes, found = conform_transactions(data, table)
        table.update(zip(codes, found, strict=True))
        if rows.height == 0:
            return self
        # The ledger's ids are scanned against the batch's, not hashed for every append: a
        # 10-row batch took 0.18 s at 1M rows the other way round, 8 ms this way.
        ids = rows.get_column(EXTERNAL_ID)
        repeated = self.external_ids.filter(self.external_ids.is_in(ids.implode()))
        if repeated.len():
            clash = ids.is_in(repeated.implode())
            raise InvalidLedger(f"duplicate external_id {ids[int(clash.arg_max() or 0)]}")
        first = rows.row(0, named=True)
        if self.n_transactions and (first[TIME_US], first[SEQUENCE], first[EXTERNAL_ID]) <= (
            int(self.time[-1]),
            int(self.seq[-1]),
            str(self.external_ids[-1]),
        ):
            before = None
            if rows.height <= merge.MERGE_ROWS_MAX:
                before = merge.rows_before(self.time, self.seq, self.external_ids, rows)
            if before is not None:
                return self._merged(rows, before, table)
            return Ledger._build(
                _Batch(pl.concat([self.rows(), rows]).sort(TIME_US, SEQUENCE, EXTERNAL_ID)),
                {**table},
                dict(self._opening),
            )
        led = self._successor(table)
        led._node_index = self._node_index.copy()
        led._hashers = {name: h.copy() for name, h in self._stream_hashers().items()}
        batch = _Batch(rows)
        del rows
        led._add_rows(batch, adjacency=self.adj)
        return led

    def _successor(self, decimals: dict[str, int]) -> Ledger:
        led = Ledger()
        led.__dict__.update(
            {
                k: v
                for k, v in self.__dict__.items()
                # per-ledger caches start empty (``columns`` would name the old arrays)
                if k not in _NOT_INHERITED
            }
        )
        led.decimals = {**decimals}
        led._accounts = self._accounts.copy()
        return led

    def _merged(self, rows: pl.DataFrame, before: I64, decimals: dict[str, int]) -> Ledger:
        """Return the ledger with ``rows`` (a few, some before the last row) merged into place.

        ``before``: how many of this ledger's rows sort before each of ``rows``. It equals a
        ledger built from all rows at once (:mod:`tracing.merge`).
        """
        place = merge.Placement(self.n_transactions, before)
        led = self._successor(decimals)
        # Thrown away: every stream is hashed anew below, in the merged order.
        led._hashers = {n: hashlib.sha256() for name in _STREAMS for n in (name, name + ".len")}
        # Currencies, accounts and nodes take temporary ids (old ones kept, new ones next),
        # then are renumbered by where each first appears in the merged rows.
        codes = rows.get_column(CURRENCY)
        named = (*self.currencies, *(c for c in codes.unique(maintain_order=True).to_list()
                                     if c not in self.currencies))  # fmt: skip
        new_cur = codes.replace_strict(named, range(len(named)), return_dtype=pl.Int64)
        cur_order, cur_rank = merge.first_seen(
            place.merge(self.tx_currency, new_cur.to_numpy()), len(named)
        )
        led.currencies = tuple(named[i] for i in cur_order)
        new_acc = led._account_ids(rows.get_column(FROM_ACCOUNT), rows.get_column(TO_ACCOUNT))
        acc_order, acc_rank = merge.first_seen(
            merge.interleaved(
                place.merge(self.node_account[self.src], new_acc[0::2]),
                place.merge(self.node_account[self.dst], new_acc[1::2]),
            ),
            len(led.account_keys),
        )
        led.account_keys = led.account_keys.gather(acc_order)
        led._accounts = index.HashIndex.of(
            led._accounts.keys[acc_order], led._accounts.checks[acc_order]
        )
        nodes = self._node_index.copy()
        batch_keys = ((new_acc << _CURRENCY_BITS) | np.repeat(new_cur.to_numpy(), 2)).astype(
            np.uint64
        )
        batch_nodes = nodes.add(batch_keys, batch_keys)
        assert batch_nodes is not None  # exact integer keys cannot collide
        ends = merge.interleaved(
            place.merge(self.src, batch_nodes[0::2]), place.merge(self.dst, batch_nodes[1::2])
        )
        node_order, node_rank = merge.first_seen(ends, len(nodes.keys))
        old_keys = nodes.keys[node_order]
        led.node_account = acc_rank[(old_keys >> np.uint64(_CURRENCY_BITS)).astype(np.int64)]
        led.node_currency = cur_rank[(old_keys & np.uint64(2**_CURRENCY_BITS - 1)).astype(np.int64)]
        node_keys = ((led.node_account << _CURRENCY_BITS) | led.node_currency).astype(np.uint64)
        led._node_index = index.HashIndex.of(node_keys, node_keys)
        led.src, led.dst = node_rank[ends[0::2]], node_rank[ends[1::2]]
        led.amount = place.merge(self.amount, rows.get_column(MINOR).to_numpy())
        led.time = place.merge(self.time, rows.get_column(TIME_US).to_numpy())
        led.seq = place.merge(self.seq, rows.get_column(SEQUENCE).to_numpy())
        led.external_ids = place.merge_series(self.external_ids, rows.get_column(EXTERNAL_ID))
        degree = np.zeros(len(nodes.keys), np.int64)
        degree[node_rank[: len(self.degree)]] = self.degree
        led._index(None, node_rank[batch_nodes[0::2]], node_rank[batch_nodes[1::2]], 0, degree)
        del led.__dict__["_hashers"]
        led._stream_hashers()
        led.fingerprint = led._fingerprint()
        return led

    def _stream_hashers(self) -> dict[str, Any]:
        """Return the fingerprint's content streams (a ledger loaded from disk hashes anew)."""
        if "_hashers" not in self.__dict__:
            hashers = {n: hashlib.sha256() for name in _STREAMS for n in (name, name + ".len")}
            _hash_strings(hashers, "accounts", self.account_keys)
            hashers["currencies"].update("".join(f"{c}\n" for c in self.currencies).encode())
            hashers["nodes"].update(_raw(self._node_index.keys, "<u8"))
            for name, values in (("src", self.src), ("dst", self.dst)):
                hashers[name].update(_raw(values, "<i8"))
            columns = {EXTERNAL_ID: self.external_ids, MINOR: self.amount, TIME_US: self.time}
            _hash_rows(hashers, pl.DataFrame({**columns, SEQUENCE: self.seq}))
            self._hashers = hashers
        return self._hashers

    def _add_rows(self, batch: _Batch, adjacency: Adjacency | None) -> None:
        offset = 0 if adjacency is None else len(self.src)
        known_codes = len(self.currencies)
        currency = batch.rows.get_column(CURRENCY)
        seen = currency.unique(maintain_order=True).to_list()
        self.currencies = (*self.currencies, *(c for c in seen if c not in self.currencies))
        if len(self.currencies) == 1:
            cur = np.zeros(len(currency), np.int64)
        else:
            cur = currency.replace_strict(
                self.currencies, range(len(self.currencies)), return_dtype=pl.Int64
            ).to_numpy()
        del currency
        # Endpoints interleaved (from, to, from, to, ...) so ids are numbered in first-seen
        # order of the canonical rows: appending in order numbers them as a full build would.
        known_accounts, known_nodes = len(self.account_keys), len(self._node_index.keys)
        sources, targets = batch.take_endpoints()
        acc = self._account_ids(sources, targets)
        del sources, targets
        rows = batch.rows
        if len(self.currencies) == 1 and known_nodes == known_accounts:
            # One currency so far: nodes are the accounts, numbered alike; index only new ones.
            fresh = np.arange(known_accounts, len(self.account_keys), dtype=np.uint64)
            fresh <<= np.uint64(_CURRENCY_BITS)
            self._node_index.reserve(len(fresh))
            self._node_index.add(fresh, fresh)
            nodes = acc
        else:
            node_keys = ((acc << _CURRENCY_BITS) | np.repeat(cur, 2)).astype(np.uint64)
            self._node_index.reserve(len(self.account_keys) - known_accounts + 1024)
            found = self._node_index.add(node_keys, node_keys)
            assert found is not None  # exact integer keys cannot collide
            nodes = found
        self.node_account = (self._node_index.keys >> np.uint64(_CURRENCY_BITS)).astype(np.int64)
        self.node_currency = (self._node_index.keys & np.uint64(2**_CURRENCY_BITS - 1)).astype(
            np.int64
        )
        new_src, new_dst = nodes[0::2].copy(), nodes[1::2].copy()
        self._extend_columns(rows, new_src, new_dst, offset)
        self._index(adjacency, new_src, new_dst, offset)
        hashers = self._hashers
        hashers["currencies"].update(
            "".join(f"{c}\n" for c in self.currencies[known_codes:]).encode()
        )
        hashers["nodes"].update(_raw(self._node_index.keys[known_nodes:], "<u8"))
        for name, values in (("src", new_src), ("dst", new_dst)):
            hashers[name].update(_raw(values, "<i8"))
        _hash_rows(hashers, rows)
        self.fingerprint = self._fingerprint()

    def _index(
        self,
        adjacency: Adjacency | None,
        new_src: I64,
        new_dst: I64,
        offset: int,
        degree: I64 | None = None,
    ) -> None:
        """Index the adjacency (CSR) and count each node's counterparties.

        ``degree``: the counts before the new rows ``new_src``/``new_dst`` (by the new node
        ids), when the rows are merged among old ones.
        """
        n_nodes = len(self.node_account)
        if adjacency is not None:
            degree = np.zeros(n_nodes, np.int64)
            degree[: len(self.degree)] = self.degree
        if adjacency is None:
            out_ptr, out_idx = index.csr(self.src, n_nodes)
            in_ptr, in_idx = index.csr(self.dst, n_nodes)
        else:
            out_ptr, out_idx = index.csr_append(
                adjacency.out_ptr, adjacency.out_idx, new_src, offset, n_nodes
            )
            in_ptr, in_idx = index.csr_append(
                adjacency.in_ptr, adjacency.in_idx, new_dst, offset, n_nodes
            )
        self.adj = Adjacency(out_ptr, out_idx, in_ptr, in_idx)
        self.tx_currency = self.node_currency[self.src]
        if degree is None:
            self.degree = index.counterparties(self.adj, self.src, self.dst, np.empty(0, np.bool_))
            return
        # Only the nodes the new rows touch can have gained a counterparty.
        index.recount(
            self.adj, self.src, self.dst, np.unique(np.concatenate([new_src, new_dst])), degree
        )
        self.degree = degree

    def _extend_columns(self, rows: pl.DataFrame, src: I64, dst: I64, offset: int) -> None:
        def cat(old: str, new: I64) -> I64:
            return new if offset == 0 else np.concatenate([getattr(self, old), new])

        self.src, self.dst = cat("src", src), cat("dst", dst)
        self.amount = cat("amount", rows.get_column(MINOR).to_numpy())
        self.time = cat("time", rows.get_column(TIME_US).to_numpy())
        self.seq = cat("seq", rows.get_column(SEQUENCE).to_numpy())
        ids = rows.get_column(EXTERNAL_ID).rename(EXTERNAL_ID)
        self.external_ids = (
            ids if offset == 0 else pl.concat([self.external_ids, ids], rechunk=True)
        )

    def _account_ids(self, sources: pl.Series, targets: pl.Series) -> I64:
        ids = np.empty(2 * len(sources), np.int64)
        known, fresh_keys = len(self.account_keys), [self.account_keys]
        # Sized once for about one new account per eight rows (accounts recur), so that the
        # chunks below do not each outgrow the table and rebuild it.
        self._accounts.reserve(len(sources) // 8 + 1024)
        for lo in range(0, len(sources), _CHUNK_ROWS):
            hi = min(lo + _CHUNK_ROWS, len(sources))
            part, new_keys = self._account_ids_of(
                sources.slice(lo, hi - lo), targets.slice(lo, hi - lo), known
            )
            ids[2 * lo : 2 * hi] = part
            known += len(new_keys)
            fresh_keys.append(new_keys)
        self.account_keys = pl.concat(fresh_keys, rechunk=True)
        self._accounts.shrink()
        return ids

    def _account_ids_of(
        self, sources: pl.Series, targets: pl.Series, known: int
    ) -> tuple[I64, pl.Series]:
        (s1, s2), (t1, t2) = index.string_hashes(sources), index.string_hashes(targets)
        h1, h2 = np.empty(2 * len(s1), np.uint64), np.empty(2 * len(s1), np.uint64)
        h1[0::2], h1[1::2], h2[0::2], h2[1::2] = s1, t1, s2, t2
        del s1, s2, t1, t2
        ids = self._accounts.add(h1, h2)
        if ids is None:  # pragma: no cover - needs a 128-bit hash collision
            raise InvalidLedger("account key hash collision; rename an account key")
        fresh = np.flatnonzero(ids >= known)
        new_keys = pl.Series(ACCOUNT, [], pl.String)
        if len(fresh):
            first = np.empty(int(ids.max()) + 1 - known, np.int64)
            first[ids[fresh][::-1] - known] = fresh[::-1]  # the last write wins: first seen
            picks = pl.DataFrame(
                {
                    "source": sources.gather(first // 2),
                    "target": targets.gather(first // 2),
                    "odd": first % 2 == 1,
                }
            ).select(pl.when("odd").then("target").otherwise("source").alias(ACCOUNT))
            new_keys = picks.to_series()
            _hash_strings(self._hashers, "accounts", new_keys)
        return ids, new_keys

    def _fingerprint(self) -> str:
        digest = hashlib.sha256(b"moneytrail-ledger-v1\n")
        for name in sorted(self._hashers):
            digest.update(f"{name}:{self._hashers[name].hexdigest()}\n".encode())
        used = sorted(c for c in self.currencies)
        digest.update(repr([(c, self.decimals[c]) for c in used]).encode())
        digest.update(repr(sorted(self._opening.items())).encode())
        return digest.hexdigest()

    # -- queries --------------------------------------------------------------------------
    @property
    def n_transactions(self) -> int:
        """Number of transactions."""
        return len(self.src)

    @property
    def n_accounts(self) -> int:
        """Number of distinct account keys."""
        return len(self.account_keys)

    @property
    def n_nodes(self) -> int:
        """Number of ``(account, currency)`` pairs."""
        return len(self.node_account)

    def rows(self) -> pl.DataFrame:
        """Return the transactions in canonical order, in minor units and microseconds."""
        return pl.DataFrame(
            {
                EXTERNAL_ID: self.external_ids,
                FROM_ACCOUNT: self.account_keys.gather(self.node_account[self.src]),
                TO_ACCOUNT: self.account_keys.gather(self.node_account[self.dst]),
                CURRENCY: pl.Series(self.currencies, dtype=pl.String).gather(
                    self.node_currency[self.src]
                ),
                MINOR: self.amount,
                TIME_US: self.time,
                SEQUENCE: self.seq,
            }
        )

    def nodes_of(self, accounts: Sequence[str], currencies: Sequence[str]) -> I64:
        """Node of each ``(account, currency)``, -1 where the ledger has no such pair."""
        pairs = list(zip(accounts, currencies, strict=True))
        if len(pairs) > _FEW_KEYS:
            return self._find_nodes(pairs)
        return _remembered(self._seen_nodes, pairs, self._find_nodes)  # as in account_ids

    def _find_nodes(self, pairs: Sequence[tuple[str, str]]) -> I64:
        acc = self._find_accounts([a for a, _ in pairs])
        codes = {c: i for i, c in enumerate(self.currencies)}
        cur = np.array([codes.get(c, -1) for _, c in pairs], np.int64)
        keys = ((np.maximum(acc, 0) << _CURRENCY_BITS) | np.maximum(cur, 0)).astype(np.uint64)
        found = self._node_index.find(keys, keys)
        return np.where((acc < 0) | (cur < 0), -1, found)

    def account_ids(self, accounts: Sequence[str]) -> I64:
        """Id of each account key, -1 where unknown."""
        if len(accounts) > _FEW_KEYS:
            return self._find_accounts(accounts)
        # Seeds are a few keys, traced again and again; hashing them through Polars costs
        # more than the search of a local trace, so the answers are remembered (the ledger is
        # immutable: they cannot go stale).
        return _remembered(self._seen_keys, accounts, self._find_accounts)

    def _find_accounts(self, accounts: Sequence[str]) -> I64:
        h1, h2 = index.string_hashes(pl.Series(list(accounts), dtype=pl.String))
        return self._accounts.find(h1, h2)

    def positions_of(self, external_ids: Sequence[str]) -> I64:
        """Position of each transaction id, -1 where unknown (one scan of the id column).

        Like seed account keys, a few seed transactions looked up before are remembered.
        """
        if len(external_ids) > _FEW_KEYS:
            return self._scan_positions(external_ids)
        return _remembered(self._seen_ids, external_ids, self._scan_positions)

    def _scan_positions(self, external_ids: Sequence[str]) -> I64:
        wanted = pl.DataFrame({EXTERNAL_ID: list(external_ids)}, schema={EXTERNAL_ID: pl.String})
        found = wanted.join(
            self.external_ids.to_frame()
            .with_row_index("pos")
            .filter(pl.col(EXTERNAL_ID).is_in(wanted[EXTERNAL_ID].implode())),
            on=EXTERNAL_ID,
            how="left",
            maintain_order="left",
        )
        return found.get_column("pos").fill_null(-1).cast(pl.Int64).to_numpy()

    def opening(self) -> tuple[np.ndarray, I64]:
        """Per node: whether an opening balance was given, and its minor units."""
        return self.opening_of(np.arange(self.n_nodes, dtype=np.int64))

    def opening_of(self, nodes: I64) -> tuple[np.ndarray, I64]:
        """Per node of ``nodes`` (ascending): whether an opening balance was given, and it."""
        given = np.zeros(len(nodes), np.bool_)
        amount = np.zeros(len(nodes), np.int64)
        if self._opening:
            keys = list(self._opening)
            found = self.nodes_of([k[0] for k in keys], [k[1] for k in keys])
            for i, key in zip(index.find_sorted(nodes, found), keys, strict=True):
                if i >= 0:
                    given[i], amount[i] = True, self._opening[key]
        return given, amount

    def order(self, policy: SameDayPolicy) -> Order:
        """Return the replay order of ``policy`` (computed once per ledger and policy)."""
        from tracing import store
        from tracing.order import build_order

        if policy not in self._orders:
            if self._store is None:
                self._orders[policy] = build_order(self, policy)
            else:  # shared with every process that mapped the same directory
                self._orders[policy] = store.order(self, self._store, policy)
        return self._orders[policy]
