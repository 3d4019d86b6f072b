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


def _fast_ints(name: str, values: np.ndarray) -> pl.Series:
    return _wrap(_PySeries.new_i64(name, np.ascontiguousarray(values, np.int64), False))


def _fast_bools(name: str, values: np.ndarray) -> pl.Series:
    return _wrap(_PySeries.new_bool(name, np.ascontiguousarray(values, np.bool_), False))


def _fast_texts(name: str, values: list[str]) -> pl.Series:
    return _wrap(_PySeries.new_str(name, values, False))


def _fast_cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    return _wrap(series._s.cast(dtype, True, False))


@cache
def _null(dtype: pl.DataType) -> pl.Series:
    return _wrap(_PySeries.new_null("", [None], False).cast(dtype, True, False))


def _fast_nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    # From a list, not by repeating one null: a repeated value is marked sorted, which the
    # frame's IPC bytes would carry.
    return _wrap(_PySeries.new_null(name, [None] * n, False).cast(dtype, True, False))


def _fast_take(series: pl.Series, idx: np.ndarray) -> pl.Series:
    index = _PySeries.new_u64 if _INDEX is np.uint64 else _PySeries.new_u32
    positions = index("", np.ascontiguousarray(idx, _INDEX), False)
    return _wrap(series._s.gather_with_series(positions))


def _fast_nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    if missing.any():
        where = _PySeries.new_u32 if _INDEX is np.uint32 else _PySeries.new_u64
        positions = where("", np.flatnonzero(missing).astype(_INDEX), False)
        series._s.scatter(positions, _null(series.dtype)._s)
    return series


def _fast_frame(columns: list[pl.Series]) -> pl.DataFrame:
    return pl.DataFrame._from_pydf(_PyDataFrame([c._s for c in columns]))


# The constructors above are Polars' own internals, not its public surface; a Polars release
# may rename or change them. So they serve only when they agree with the public constructors
# on a probe; otherwise (a newer Polars) the public ones do: the same values and dtypes,
# slower for small results, and stored frames' bytes may then differ, as across any Polars
# upgrade.


def _plain_ints(name: str, values: np.ndarray) -> pl.Series:
    return pl.Series(name, np.ascontiguousarray(values, np.int64), dtype=pl.Int64)


def _plain_bools(name: str, values: np.ndarray) -> pl.Series:
    return pl.Series(name, np.ascontiguousarray(values, np.bool_), dtype=pl.Boolean)


def _plain_texts(name: str, values: list[str]) -> pl.Series:
    return pl.Series(name, values, dtype=pl.String)


def _plain_cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    return series.cast(dtype, strict=True)


def _plain_nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.Series(name, [None] * n, dtype=dtype)


def _plain_take(series: pl.Series, idx: np.ndarray) -> pl.Series:
    return series.gather(np.ascontiguousarray(idx, np.int64))


def _plain_nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    if missing.any():
        series = series.scatter(np.flatnonzero(missing), None)
    return series


def _plain_frame(columns: list[pl.Series]) -> pl.DataFrame:
    return pl.DataFrame(columns)


@cache
def _internals_agree() -> bool:
    """Whether the internal constructors build what the public ones do, on a probe.

    Probed at the first column built, not at import: the probe runs Polars' thread pool, and
    a pool started while ``moneytrail serve`` imports the engine made it spawn its workers
    instead of forking them (``app.workers.fork_workers``).
    """
    try:
        at = np.array([2, 0], np.int64)
        gone = np.array([False, True])
        when = pl.Datetime("us", "UTC")
        pairs = [
            (_fast_ints("i", at), _plain_ints("i", at)),
            (_fast_bools("b", gone), _plain_bools("b", gone)),
            (_fast_texts("s", ["x", "y"]), _plain_texts("s", ["x", "y"])),
            (_fast_cast(_fast_ints("t", at), when), _plain_cast(_plain_ints("t", at), when)),
            (_fast_nulls("d", 2, pl.Decimal(38, 2)), _plain_nulls("d", 2, pl.Decimal(38, 2))),
            (
                _fast_take(_fast_texts("k", ["a", "b", "c"]), at),
                _plain_take(_plain_texts("k", ["a", "b", "c"]), at),
            ),
            (
                _fast_nullable(_fast_ints("n", at), gone),
                _plain_nullable(_plain_ints("n", at), gone),
            ),
        ]
        same = all(a.dtype == b.dtype and a.name == b.name and a.equals(b) for a, b in pairs)
        built = _fast_frame([_fast_ints("a", at), _fast_texts("b", ["x", "y"])])
        return same and built.equals(
            _plain_frame([_plain_ints("a", at), _plain_texts("b", ["x", "y"])])
        )
    except Exception:  # any failure of an internal: use the public constructors
        return False


def ints(name: str, values: np.ndarray) -> pl.Series:
    """Make an Int64 column of ``values``.

    Example
    -------
    >>> ints("hop", np.array([1, 2])).to_list()
    [1, 2]
    """
    return (_fast_ints if _internals_agree() else _plain_ints)(name, values)


def bools(name: str, values: np.ndarray) -> pl.Series:
    """Make a Boolean column of ``values``.

    Example
    -------
    >>> bools("inferred", np.array([True, False])).to_list()
    [True, False]
    """
    return (_fast_bools if _internals_agree() else _plain_bools)(name, values)


def texts(name: str, values: list[str]) -> pl.Series:
    """Make a String column of ``values``.

    Example
    -------
    >>> texts("flag", ["overdrawn"]).dtype
    String
    """
    return (_fast_texts if _internals_agree() else _plain_texts)(name, values)


def cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    """``series.cast(dtype)`` (strict), run directly.

    Example
    -------
    >>> cast(ints("t", np.array([0])), pl.Datetime("us", "UTC")).dtype
    Datetime(time_unit='us', time_zone='UTC')
    """
    return (_fast_cast if _internals_agree() else _plain_cast)(series, dtype)


def nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    """Make a column of ``n`` nulls of ``dtype``.

    Example
    -------
    >>> nulls("held", 2, pl.Decimal(38, 2)).null_count()
    2
    """
    return (_fast_nulls if _internals_agree() else _plain_nulls)(name, n, dtype)


def take(series: pl.Series, idx: np.ndarray) -> pl.Series:
    """``series.gather(idx)``, run directly.

    Example
    -------
    >>> take(texts("k", ["a", "b"]), np.array([1, 1])).to_list()
    ['b', 'b']
    """
    return (_fast_take if _internals_agree() else _plain_take)(series, idx)


def nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    """Put nulls in ``series`` where ``missing``.

    A fresh series (as :func:`take` returns) is changed in place.

    Example
    -------
    >>> nullable(ints("x", np.array([1, 2])), np.array([False, True])).to_list()
    [1, None]
    """
    return (_fast_nullable if _internals_agree() else _plain_nullable)(series, missing)


def frame(columns: list[pl.Series]) -> pl.DataFrame:
    """Make a frame of ``columns`` (equal lengths, distinct names).

    Example
    -------
    >>> frame([ints("a", np.array([1])), texts("b", ["x"])]).columns
    ['a', 'b']
    """
    return (_fast_frame if _internals_agree() else _plain_frame)(columns)
