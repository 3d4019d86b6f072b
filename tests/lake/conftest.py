"""A local Spark session for the lake tests, and lakes made from the tracing tests' frames."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl
import pytest

from lake import store

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def lake_rows(
    frame: pl.DataFrame, document: str = "doc-1", decimals: Mapping[str, int] | None = None
) -> pl.DataFrame:
    """A transactions frame (tests/tracing/factories.py) as lake rows of one source document."""
    return store.lake_rows(frame, document, decimals)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    if not HAVE_SPARK:
        pytest.skip("needs the spark extra (pip install 'moneytrail[spark]') and Java 17+")
    from lake.session import spark_session

    # One core and a small heap: the machines running the suite are small and shared.
    session = spark_session(
        "local[1]", conf={"spark.driver.memory": "768m", "spark.sql.shuffle.partitions": "2"}
    )
    yield session
    session.stop()


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"
