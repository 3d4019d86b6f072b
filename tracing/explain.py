"""Explain: the strongest paths that carried value from the seeds to one account.

A path is a time-respecting chain of trail transactions: each leaves the account the previous
one arrived at, after it arrived. Its strength is the smallest traced amount along it (what
could have passed through all of it). Paths are ranked by strength, then fewest hops, then
earliest start; a best-first search from the target backwards finds them without
enumerating every path.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass

import polars as pl

from tracing.errors import InvalidTraceParams, UnknownSeed
from tracing.result import Frame, TraceResult
from tracing.schema import ACCOUNT, CURRENCY

# Partial paths expanded before giving up on finding more (keeps explain interactive).
MAX_EXPANSIONS = 200_000


@dataclass(order=True, frozen=True, slots=True)
class _Partial:
    neg_strength: int
    hops: int
    start: int  # withdrawal rank of the first transaction: lower is earlier
    rows: tuple[int, ...]  # flow rows, first transaction first


def _seed_thresholds(result: TraceResult) -> tuple[dict[int, int], set[int]]:
    seeds = result.frame(Frame.SEEDS)
    accounts: dict[int, int] = {}
    for node, arrival, tx in seeds.iter_rows():
        if tx < 0:
            accounts[node] = min(arrival, accounts.get(node, arrival))
    return accounts, {tx for tx in seeds.get_column("tx") if tx >= 0}


def explain(
    result: TraceResult, *, to: str, currency: str | None = None, k: int = 5
) -> pl.DataFrame:
    """Find the ``k`` strongest paths from a seed to account ``to``.

    Parameters
    ----------
    result
        A trace. Backward (sources of funds), the paths run from ``to`` (an origin) to the
        seeds, in time order.
    to
        The account key to explain.
    currency
        Needed only when ``to`` was reached in several currencies.
    k
        Number of paths.

    Returns
    -------
    polars.DataFrame
        One row per transaction per path: ``path`` (1 = strongest), ``step``, ``strength``
        and the flow columns (``external_id, from_account, to_account, currency, amount,
        value_time, hop, traced``).

    Example
    -------
    >>> explain(result, to="iban:DE89370400440532013000", k=3)  # doctest: +SKIP
    """
    if k < 1:
        raise InvalidTraceParams(f"k must be >= 1, got {k}")
    hits = result.accounts.filter(pl.col(ACCOUNT) == to)
    if currency is not None:
        hits = hits.filter(pl.col(CURRENCY) == currency)
    if hits.height == 0:
        raise UnknownSeed(f"{to} was not reached by this trace")
    if hits.height > 1:
        raise InvalidTraceParams(f"{to} was reached in several currencies; name one")
    flows = result.flows.with_row_index("row")
    ranks = result.frame(Frame.RANKS)
    backward = result.provenance.params["direction"] != "forward"
    if backward:
        # A path from ``to`` to a seed, read against time, is a forward path from the seed:
        # swap the ends and negate the ranks, search as forward, then restore the time order.
        ranks = ranks.with_columns(
            src=pl.col("dst"),
            dst=pl.col("src"),
            wd_rank=-pl.col("dep_rank"),
            dep_rank=-pl.col("wd_rank"),
        )
    end = "from_account" if backward else "to_account"
    row_of_to = flows.filter((pl.col(end) == to) & (pl.col(CURRENCY) == hits[CURRENCY][0]))
    paths = _search(ranks, row_of_to.get_column("row").to_list(), result, k)
    if backward:
        paths = [_Partial(p.neg_strength, p.hops, p.start, tuple(reversed(p.rows))) for p in paths]
    return _frame(flows, paths)


def _search(
    ranks: pl.DataFrame, last_rows: list[int], result: TraceResult, k: int
) -> list[_Partial]:
    seed_accounts, seed_txs = _seed_thresholds(result)
    max_len = int(result.provenance.params["max_hops"]) + 1
    tx, src, dst, strength, wd, dep = (
        ranks.get_column(c).to_list()
        for c in ("tx", "src", "dst", "strength", "wd_rank", "dep_rank")
    )
    into: dict[int, list[int]] = defaultdict(list)
    for row, node in enumerate(dst):
        if strength[row] > 0:
            into[node].append(row)
    queue = [_Partial(-strength[r], 1, wd[r], (r,)) for r in last_rows if strength[r] > 0]
    heapq.heapify(queue)
    done: list[_Partial] = []
    for _ in range(MAX_EXPANSIONS):
        if not queue:
            break
        path = heapq.heappop(queue)
        if len(done) >= k and (path.neg_strength, path.hops) > (
            done[k - 1].neg_strength,
            done[k - 1].hops,
        ):
            break
        first = path.rows[0]
        if tx[first] in seed_txs or (
            src[first] in seed_accounts and wd[first] > seed_accounts[src[first]]
        ):
            done.append(path)
            done.sort()
        if len(path.rows) >= max_len or tx[first] in seed_txs:
            continue
        for row in into.get(src[first], ()):
            if dep[row] < wd[first]:
                heapq.heappush(
                    queue,
                    _Partial(
                        max(path.neg_strength, -strength[row]),
                        path.hops + 1,
                        wd[row],
                        (row, *path.rows),
                    ),
                )
    return sorted(done)[:k]


def _frame(flows: pl.DataFrame, paths: list[_Partial]) -> pl.DataFrame:
    picks = [
        (n + 1, step + 1, row) for n, path in enumerate(paths) for step, row in enumerate(path.rows)
    ]
    index = pl.DataFrame(
        {
            "path": [p[0] for p in picks],
            "step": [p[1] for p in picks],
            "row": [p[2] for p in picks],
        },
        schema={"path": pl.Int64, "step": pl.Int64, "row": pl.UInt32},
    )
    joined = index.join(flows, on="row", how="left").drop("row")
    strength = joined.group_by("path").agg(
        pl.col("traced").fill_null(pl.col("amount")).min().alias("strength")
    )
    return (
        joined.join(strength, on="path", how="left")
        .sort("path", "step")
        .select("path", "step", "strength", *[c for c in flows.columns if c != "row"])
    )
