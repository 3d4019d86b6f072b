"""Columns and frames of a small result, built without Polars' Python-side constructors.

A result of a few hundred rows is built from a few dozen columns. Through the public
constructors, each costs tens of microseconds of argument inspection (``pl.Series(array)``
checks the array's dtype, contiguity and shape; ``pl.DataFrame(columns)`` each column; most
Series methods run as a one-expression query on the thread pool), which made the frames of a
local trace cost many times the trace. The Rust constructors the public ones end in take the
same arrays directly, at a microsecond each. The values, dtypes and so the frames' bytes are
the same either way.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

_PySeries = type(pl.Series([0])._s)
_PyDataFrame = type(pl.DataFrame()._df)
_INDEX = np.uint32 if pl.get_index_type() == pl.UInt32 else np.uint64
_wrap = pl.Series._from_pyseries


def ints(name: str, values: np.ndarray) -> pl.Series:
    """Make an Int64 column of ``values``.

    Example
    -------
    >>> ints("hop", np.array([1, 2])).to_list()
    [1, 2]
    """
    return _wrap(_PySeries.new_i64(name, np.ascontiguousarray(values, np.int64), False))


def bools(name: str, values: np.ndarray) -> pl.Series:
    """Make a Boolean column of ``values``.

    Example
    -------
    >>> bools("inferred", np.array([True, False])).to_list()
    [True, False]
    """
    return _wrap(_PySeries.new_bool(name, np.ascontiguousarray(values, np.bool_), False))


def texts(name: str, values: list[str]) -> pl.Series:
    """Make a String column of ``values``.

    Example
    -------
    >>> texts("flag", ["overdrawn"]).dtype
    String
    """
    return _wrap(_PySeries.new_str(name, values, False))


def cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """``series.cast(dtype)`` (strict), run directly.

    Example
    -------
    >>> cast(ints("t", np.array([0])), pl.Datetime("us", "UTC")).dtype
    Datetime(time_unit='us', time_zone='UTC')
    """
    return _wrap(series._s.cast(dtype, True, False))


@cache
def _null(dtype: pl.DataType) -> pl.Series:
    return _wrap(_PySeries.new_null("", [None], False).cast(dtype, True, False))


def nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    """Make a column of ``n`` nulls of ``dtype``.

    Example
    -------
    >>> nulls("held", 2, pl.Decimal(38, 2)).null_count()
    2
    """
    # From a list, not by repeating one null: a repeated value is marked sorted, which the
    # frame's IPC bytes would carry.
    return _wrap(_PySeries.new_null(name, [None] * n, False).cast(dtype, True, False))


def take(series: pl.Series, idx: np.ndarray) -> pl.Series:
    """``series.gather(idx)``, run directly.

    Example
    -------
    >>> take(texts("k", ["a", "b"]), np.array([1, 1])).to_list()
    ['b', 'b']
    """
    index = _PySeries.new_u64 if _INDEX is np.uint64 else _PySeries.new_u32
    positions = index("", np.ascontiguousarray(idx, _INDEX), False)
    return _wrap(series._s.gather_with_series(positions))


def nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    """Put nulls in ``series`` where ``missing``.

    A fresh series (as :func:`take` returns) is changed in place.

    Example
    -------
    >>> nullable(ints("x", np.array([1, 2])), np.array([False, True])).to_list()
    [1, None]
    """
    if missing.any():
        where = _PySeries.new_u32 if _INDEX is np.uint32 else _PySeries.new_u64
        positions = where("", np.flatnonzero(missing).astype(_INDEX), False)
        series._s.scatter(positions, _null(series.dtype)._s)
    return series


def frame(columns: list[pl.Series]) -> pl.DataFrame:
    """Make a frame of ``columns`` (equal lengths, distinct names).

    Example
    -------
    >>> frame([ints("a", np.array([1])), texts("b", ["x"])]).columns
    ['a', 'b']
    """
    return pl.DataFrame._from_pydf(_PyDataFrame([c._s for c in columns]))
