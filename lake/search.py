"""Time-respecting multi-hop reachability on Spark: a loop of DataFrame joins on the frontier.

The search's only job is to find the **sub-ledger**: every transaction of every account the
trace can reach. The in-memory engine then runs the whole trace on it (:mod:`lake.engine`),
so the rules live once, in :mod:`tracing`. That makes a *superset* of the reached accounts
enough, and the search relaxes where exactness would cost a global computation:

* funds that reach an account at time ``t`` may leave with any transaction at or after ``t``
  (statement order decides ties in memory); under the same-day policies, at or after the
  start of ``t``'s UTC day (they reorder a day's events, never across days). Backward, the
  mirror. Window, minimum amount, ``max_hops``, ``stop_at`` and the high-degree cut-off are
  applied exactly as the engine applies them, so the frontier stays as local as the trace.
* Every path the engine follows is one this search follows too, with no more hops, so each
  account the engine reaches is in the sub-ledger with *all* its transactions (any time: its
  counterparty count, its whole replayed history). A transaction between two accounts the
  trace never reaches changes nothing the engine computes, with one exception: the
  ``best_case`` order of a day depends on the same-day deposits into each payer, so under that
  policy the sub-ledger is closed under "same-day deposit into the payer" (the order of a
  closed subset is the subset of the order: see ``tracing.order._best_case``).

Search state (best arrival per reached ``(account, currency)``) is kept on the driver, which
has to hold the sub-ledger anyway; Spark scans and joins the lake. Forward, a hop reads only
the buckets of its frontier's accounts.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

import polars as pl

from lake.store import EXCLUSION_ROWS, LAKE_ROWS, Lake, Manifest, bucket_of
from tracing import Direction, Progress, SameDayPolicy, TraceCancelled, TraceParams, TraceTooLarge
from tracing.schema import CURRENCY, EXTERNAL_ID, FROM_ACCOUNT, MINOR, TIME_US, TO_ACCOUNT

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

DAY_US = 86_400 * 1_000_000
INF = 2**62
NODE = ("account", CURRENCY)
_STATE = pl.Schema({"account": pl.String(), CURRENCY: pl.String(), "at": pl.Int64()})
_EXCLUSION_SCHEMA = ", ".join(f"{name} string" for name in EXCLUSION_ROWS.names())


@dataclass(frozen=True, slots=True)
class SubLedger:
    """What a Spark search found: the rows the engine needs, and how it got them."""

    rows: pl.DataFrame  # lake rows (see lake.store.LAKE_ROWS), canonical order
    manifest: Manifest
    hops: int  # hops the search ran
    reached: int  # (account, currency) nodes the relaxed search reached
    files_read: int  # distinct lake files scanned, over all hops
    bytes_read: int  # their size


def _us(value: datetime | None, default: int) -> int:
    if value is None:
        return default
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def _minor(amount: Decimal, places: int) -> int:
    return int(amount.scaleb(places).to_integral_value(rounding=ROUND_CEILING))


class _Scan:
    """The lake's rows as Spark reads them, recording which files were touched."""

    def __init__(self, spark: SparkSession, lake: Lake, manifest: Manifest) -> None:
        self.spark, self.lake, self.manifest = spark, lake, manifest
        self.touched: set[str] = set()
        self._schema = ", ".join(
            f"{name} {'string' if dtype == pl.String else 'bigint'}"
            for name, dtype in LAKE_ROWS.items()
        )

    def rows(self, sources: set[str] | None = None) -> DataFrame | None:
        """Rows whose source account is in ``sources`` may only be in these files; the rows
        the exclusion files of the same buckets list are not in the ledger."""
        buckets = None
        if sources is not None:
            buckets = {bucket_of(a, self.manifest.buckets) for a in sources}
        paths = self.lake.paths(self.manifest, buckets)
        if not paths:
            return None
        self.touched.update(paths)
        rows = self.spark.read.schema(self._schema).parquet(*paths)
        if excluded := self.lake.exclusion_paths(self.manifest, buckets):
            from pyspark.sql import functions as F

            # Few (each a person's decision), so broadcast: no shuffle of the lake's rows.
            ids = self.spark.read.schema(_EXCLUSION_SCHEMA).parquet(*excluded)
            rows = rows.join(F.broadcast(ids.select(EXTERNAL_ID)), [EXTERNAL_ID], "left_anti")
        return rows

    @property
    def bytes_read(self) -> int:
        sizes = {str(self.lake.root / f.path): f.bytes for f in self.manifest.files}
        return sum(sizes[p] for p in self.touched)


class _Search:
    def __init__(
        self, spark: SparkSession, lake: Lake, manifest: Manifest, params: TraceParams
    ) -> None:
        from pyspark.sql import functions as F

        self.F = F
        self.spark, self.params = spark, params
        self.scan = _Scan(spark, lake, manifest)
        self.forward = params.direction is Direction.FORWARD
        self.by_day = params.same_day_policy is not SameDayPolicy.LEDGER
        self.decimals = manifest.decimals
        self.degrees: dict[tuple[str, str], int] = {}
        self.scratch = lake.root / "_scratch" / uuid.uuid4().hex

    # -- filters ------------------------------------------------------------------------
    def followable(self, rows: DataFrame) -> DataFrame:
        """Rows the engine may follow: within the window and at least the minimum amount."""
        F, p = self.F, self.params
        cond: Column = F.lit(True)
        if p.window_start is not None:
            cond = cond & (F.col(TIME_US) >= _us(p.window_start, 0))
        if p.window_end is not None:
            cond = cond & (F.col(TIME_US) <= _us(p.window_end, 0))
        if p.min_amount is not None:
            least = F.lit(None).cast("bigint")
            for code, places in self.decimals.items():
                least = F.when(F.col(CURRENCY) == code, _minor(p.min_amount, places)).otherwise(
                    least
                )
            cond = cond & (F.col(MINOR) >= least)
        return rows.filter(cond)

    def threshold(self, at: pl.Expr) -> pl.Expr:
        """From an arrival (forward) or departure (backward), the bound on the next hop."""
        if not self.by_day:
            return at
        day = at.floordiv(DAY_US) * DAY_US
        bounded = (at > -INF) & (at < INF)
        return pl.when(bounded).then(day if self.forward else day + DAY_US - 1).otherwise(at)

    # -- seeds ----------------------------------------------------------------------------
    def seeds(self) -> pl.DataFrame:
        p = self.params
        default = _us(
            p.window_start if self.forward else p.window_end, -INF if self.forward else INF
        )
        rows = [(s.account, s.currency, _us(s.at, default)) for s in p.seeds]
        if p.seed_transactions:
            found = self.collect(self.scan.rows(), self._with_ids(p.seed_transactions))
            end = TO_ACCOUNT if self.forward else FROM_ACCOUNT
            rows += found.select(end, CURRENCY, TIME_US).rows()
        seeds = pl.DataFrame(rows, schema=_STATE, orient="row")
        best = pl.col("at").min() if self.forward else pl.col("at").max()
        return seeds.group_by(NODE).agg(best)

    def _with_ids(self, ids: tuple[str, ...]) -> Callable[[DataFrame], DataFrame]:
        return lambda rows: rows.filter(self.F.col(EXTERNAL_ID).isin(list(ids)))

    # -- Spark round trips ----------------------------------------------------------------
    def collect(
        self, rows: DataFrame | None, step: Callable[[DataFrame], DataFrame]
    ) -> pl.DataFrame:
        if rows is None:
            return pl.DataFrame(schema=LAKE_ROWS)
        out = step(rows)
        schema = pl.Schema({n: LAKE_ROWS.get(n, _STATE.get(n, pl.Int64())) for n in out.columns})
        # As Arrow batches: a Row object per transaction costs seconds and gigabytes once a
        # saturated trace brings millions of rows to the driver.
        found = pl.from_arrow(out.toArrow())
        assert isinstance(found, pl.DataFrame)
        return found.cast(schema) if found.height else pl.DataFrame(schema=schema)

    def frame(self, nodes: pl.DataFrame) -> DataFrame:
        """A driver-side frame as a Spark DataFrame, to be broadcast into a join.

        Written as Parquet under the lake, which every executor reads anyway:
        ``createDataFrame`` from Python rows would start Python workers on every executor and
        pickle each row (seconds per hop on a standalone cluster).
        """
        self.scratch.mkdir(parents=True, exist_ok=True)
        path = self.scratch / f"{uuid.uuid4().hex}.parquet"
        nodes.write_parquet(path)
        columns = ", ".join(
            f"{n} {'string' if d == pl.String else 'bigint'}" for n, d in nodes.schema.items()
        )
        return self.F.broadcast(self.spark.read.schema(columns).parquet(str(path)))

    # -- cut-off ------------------------------------------------------------------------------
    def expandable(self, frontier: pl.DataFrame, seeds: set[tuple[str, str]]) -> pl.DataFrame:
        """The frontier less stopped and high-degree nodes (seeds are always expanded)."""
        p = self.params
        keys: list[tuple[str, str]] = frontier.select(NODE).rows()
        keep = [k in seeds or k[0] not in p.stop_at for k in keys]
        if p.max_counterparties is not None:
            self._count_degrees([k for k, ok in zip(keys, keep, strict=True) if ok])
            keep = [
                ok and (k in seeds or self.degrees[k] <= p.max_counterparties)
                for k, ok in zip(keys, keep, strict=True)
            ]
        return frontier.filter(pl.Series(keep, dtype=pl.Boolean))

    def _count_degrees(self, keys: list[tuple[str, str]]) -> None:
        """Distinct counterparties of each node, from the lake's degree table."""
        wanted = sorted(set(keys) - set(self.degrees))
        if wanted:
            self.degrees.update(self.scan.lake.degrees(self.scan.manifest, wanted))

    # -- one hop --------------------------------------------------------------------------
    def hop(self, frontier: pl.DataFrame) -> pl.DataFrame:
        """Best arrival (forward) or departure (backward) at each node one hop beyond."""
        F = self.F
        bound = frontier.select(*NODE, self.threshold(pl.col("at")).alias("bound"))
        near, far = (FROM_ACCOUNT, TO_ACCOUNT) if self.forward else (TO_ACCOUNT, FROM_ACCOUNT)
        sources = set(bound["account"].to_list()) if self.forward else None
        rows = self.scan.rows(sources)
        if rows is None:
            return pl.DataFrame(schema=_STATE)
        joined = self.followable(rows).join(
            self.frame(bound).withColumnRenamed("account", near), on=[near, CURRENCY]
        )
        timely = (
            F.col(TIME_US) >= F.col("bound") if self.forward else F.col(TIME_US) <= F.col("bound")
        )
        # The followed transactions come to the driver and are reduced there: they are part of
        # the sub-ledger anyway, and a Spark group-by would add a shuffle to every hop.
        found = self.collect(
            joined,
            lambda r: r.filter(timely).select(F.col(far).alias("account"), CURRENCY, TIME_US),
        )
        best = pl.col(TIME_US).min() if self.forward else pl.col(TIME_US).max()
        return found.group_by(NODE).agg(best.alias("at")).cast(_STATE)


def search(
    spark: SparkSession,
    lake: Lake,
    params: TraceParams,
    *,
    manifest: Manifest | None = None,
    max_rows: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> SubLedger:
    """Find the sub-ledger of ``params`` in ``lake`` (see the module docstring).

    Raises :class:`~tracing.TraceTooLarge` when the sub-ledger would exceed ``max_rows``, and
    :class:`~tracing.TraceCancelled` when ``cancelled`` returns true between hops.
    """
    manifest = manifest or lake.require_manifest()
    run = _Search(spark, lake, manifest, params)
    try:
        return _run(run, params, max_rows, progress, cancelled)
    finally:
        shutil.rmtree(run.scratch, ignore_errors=True)


def _run(
    run: _Search,
    params: TraceParams,
    max_rows: int | None,
    progress: Callable[[Progress], None] | None,
    cancelled: Callable[[], bool] | None,
) -> SubLedger:
    best = run.seeds()
    seeds: set[tuple[str, str]] = set(best.select(NODE).rows())
    frontier, hops = best, 0
    for hop in range(1, params.max_hops + 1):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after {hop - 1} hops")
        frontier = run.expandable(frontier, seeds)
        if frontier.height == 0:
            break
        found = run.hop(frontier)
        hops = hop
        better = _improved(best, found, forward=run.forward)
        best = pl.concat([best.join(better, on=list(NODE), how="anti"), better])
        frontier = better
        if progress is not None:
            progress(Progress(hops_done=hop, accounts_reached=best.height, events_replayed=0))
        if params.max_accounts is not None and best.height > 10 * params.max_accounts:
            # The relaxed search reaches more than the engine will; far beyond the limit,
            # the engine's own check would fail too.
            raise TraceTooLarge(f"more than {params.max_accounts} accounts reached by hop {hop}")
    rows = _touching(run, best.select(NODE), max_rows)
    if params.same_day_policy is SameDayPolicy.BEST_CASE:
        rows = _same_day_closure(run, rows, max_rows)
    return SubLedger(
        rows=rows.sort(TIME_US, "sequence", EXTERNAL_ID),
        manifest=run.scan.manifest,
        hops=hops,
        reached=best.height,
        files_read=len(run.scan.touched),
        bytes_read=run.scan.bytes_read,
    )


def _improved(best: pl.DataFrame, found: pl.DataFrame, *, forward: bool) -> pl.DataFrame:
    """Nodes of ``found`` reached earlier (forward) or left later (backward) than before."""
    merged = found.join(best, on=list(NODE), how="left", suffix="_old")
    old = pl.col("at_old")
    better = (pl.col("at") < old) if forward else (pl.col("at") > old)
    return merged.filter(old.is_null() | better).select(_STATE.names())


def _touching(run: _Search, nodes: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    """Every transaction paid from or into one of ``nodes``, at any time."""
    if nodes.height == 0:
        return pl.DataFrame(schema=LAKE_ROWS)
    right = run.frame(nodes)
    out_rows = run.scan.rows(set(nodes["account"].to_list()))
    in_rows = run.scan.rows()
    # nodes exist, so the lake has files
    assert out_rows is not None
    assert in_rows is not None
    paid = out_rows.join(
        right.withColumnRenamed("account", FROM_ACCOUNT), [FROM_ACCOUNT, CURRENCY], "left_semi"
    )
    received = in_rows.join(
        right.withColumnRenamed("account", TO_ACCOUNT), [TO_ACCOUNT, CURRENCY], "left_semi"
    )
    rows = paid.unionByName(received)
    if max_rows is not None:
        # Counted in Spark before anything is brought to the driver (a transaction between
        # two reached accounts is counted twice: the bound errs on the safe side).
        size = rows.count()
        if size > max_rows:
            raise _too_large(size, max_rows)
    # Deduplicated on the driver: dropDuplicates would cost a shuffle.
    return run.collect(rows, lambda r: r.select(*LAKE_ROWS.names())).unique(EXTERNAL_ID)


def _too_large(size: int, max_rows: int) -> TraceTooLarge:
    return TraceTooLarge(
        f"the trace's sub-ledger has {size} transactions, above the limit of {max_rows}: "
        "set a high-degree cut-off (max_counterparties), stop at exchanges (stop_at) or "
        "narrow the window"
    )


def _same_day_closure(run: _Search, rows: pl.DataFrame, max_rows: int | None) -> pl.DataFrame:
    """Add same-day deposits into every payer until none is missing (``best_case`` order)."""
    F = run.F
    while True:
        wanted = rows.select(
            pl.col(FROM_ACCOUNT).alias(TO_ACCOUNT),
            CURRENCY,
            (pl.col(TIME_US) // DAY_US).alias("day"),
        ).unique()
        lake_rows = run.scan.rows()
        assert lake_rows is not None
        right = run.frame(wanted)
        found = lake_rows.withColumn("day", F.expr(f"{TIME_US} div {DAY_US}")).join(
            right, [TO_ACCOUNT, CURRENCY, "day"], "left_semi"
        )
        known = run.frame(rows.select(EXTERNAL_ID))
        fresh = run.collect(
            found.join(known, [EXTERNAL_ID], "left_anti"), lambda r: r.select(*LAKE_ROWS.names())
        )
        if fresh.height == 0:
            return rows
        rows = pl.concat([rows, fresh])
        if max_rows is not None and rows.height > max_rows:
            raise _too_large(rows.height, max_rows)
