"""The service's Spark engine: traces over the lake, one Spark session per process.

Chosen with `MONEYTRAIL_TRACE_ENGINE=spark`; the master is `MONEYTRAIL_SPARK_MASTER` and the
lake `MONEYTRAIL_LAKE_DIR`. PySpark is imported only when the first such trace runs, so the
base install (memory engine) needs neither it nor Java.
"""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import NotFound
from app.settings import Settings
from lake import Lake, Manifest, spark_session, trace_lake
from tracing import Progress, TraceParams, TraceResult

_lock = threading.Lock()


class LakeNotFound(NotFound):
    code, title = "lake_not_found", "Lake not found"

    def __init__(self, where: Path | None) -> None:
        super().__init__(
            f"the spark engine needs a lake: run `moneytrail lake sync --to DIR` and set "
            f"MONEYTRAIL_LAKE_DIR (now {where or 'unset'})"
        )


def lake_manifest(settings: Settings) -> tuple[Lake, Manifest]:
    """The configured lake and its manifest in force."""
    if settings.lake_dir is None:
        raise LakeNotFound(None)
    lake = Lake(settings.lake_dir)
    manifest = lake.manifest()
    if manifest is None:
        raise LakeNotFound(settings.lake_dir)
    return lake, manifest


def external_stops(lake: Lake, manifest: Manifest) -> frozenset[str]:
    """The lake's `ext:` and `cash:` accounts (stop_at_external)."""
    return frozenset(lake.accounts_starting_with(manifest, ("ext:", "cash:")))


def work(
    settings: Settings, lake: Lake, params: TraceParams
) -> Callable[[Callable[[Progress], None], Callable[[], bool]], TraceResult]:
    """The job that runs ``params`` on Spark; the session is made on the job's thread."""

    def run(report: Callable[[Progress], None], cancelled: Callable[[], bool]) -> TraceResult:
        with _lock:  # one session per process: the first job makes it, the others share it
            spark: Any = spark_session(settings.spark_master, conf=settings.spark_conf)
        return trace_lake(
            spark,
            lake,
            params,
            max_subledger=settings.spark_max_subledger,
            progress=report,
            cancelled=cancelled,
        )

    return run
