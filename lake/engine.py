"""A trace on the lake: the Spark search finds the sub-ledger, the in-memory engine traces it.

The result is the in-memory engine's on the whole ledger, frame for frame (see
:mod:`lake.search` for why the sub-ledger is enough); only the provenance differs: it names the
engine, the Spark master and the lake manifest, whose id is the whole ledger's fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import polars as pl

from lake.search import SubLedger, search
from lake.store import Lake, engine_frame
from tracing import PUBLIC_FRAMES, Frame, Ledger, Progress, TraceParams, TraceResult, trace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINE = "spark"


def _widened(result: TraceResult, name: Frame, dtype: pl.Decimal) -> pl.DataFrame:
    """A sub-ledger result's frame with the whole ledger's Decimal scale.

    The engine writes amounts with the most decimals of the currencies its ledger holds; a
    sub-ledger may lack the lake's widest currency.
    """
    frame = result.frame(name)
    if name not in PUBLIC_FRAMES:
        return frame  # explain's frames (ranks, seeds) hold no amounts
    return frame.with_columns(
        pl.col(c).cast(dtype)
        for c, dtype_ in frame.schema.items()
        if isinstance(dtype_, pl.Decimal)
    )


def trace_subledger(
    sub: SubLedger,
    params: TraceParams,
    *,
    master: str,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> TraceResult:
    """Run ``params`` on a sub-ledger found by :func:`lake.search.search` for them."""
    decimals = sub.manifest.decimals
    ledger = Ledger.from_frame(engine_frame(sub.rows, decimals), currency_decimals=decimals)
    result = trace(ledger, params, progress=progress, cancelled=cancelled)
    provenance = replace(
        result.provenance,
        ledger_fingerprint=sub.manifest.id,
        ledger_transactions=sub.manifest.transactions,
        engine={
            "name": ENGINE,
            "master": master,
            "lake_manifest": sub.manifest.id,
            "subledger_transactions": sub.rows.height,
            "search_hops": sub.hops,
        },
    )
    dtype = pl.Decimal(38, max(decimals.values(), default=2))
    frames = {name: partial(_widened, result, name, dtype) for name in Frame}
    return TraceResult.from_frames(
        frames, summary=result.summary, provenance=provenance, decimals=decimals
    )


def trace_lake(
    spark: SparkSession,
    lake: Lake,
    params: TraceParams,
    *,
    max_subledger: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> TraceResult:
    """Trace ``params`` over the lake in force: search on Spark, rule in memory.

    Raises what :func:`tracing.trace` raises, and :class:`~tracing.TraceTooLarge` when the
    sub-ledger has more than ``max_subledger`` transactions.
    """
    sub = search(
        spark, lake, params, max_rows=max_subledger, progress=progress, cancelled=cancelled
    )
    master = spark.sparkContext.master or ""
    return trace_subledger(sub, params, master=master, progress=progress, cancelled=cancelled)
