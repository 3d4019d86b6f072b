"""The canonical JSON of a small frame, written in Python with the bytes Polars writes.

For a result of a few dozen rows, ``text_columns(frame).write_json()`` is a handful of Polars
queries (the currency lookup, the cut, the two time formats), each handed to Polars' thread
pool: well under a millisecond on an idle machine, but on a busy one each hand-off waits for
a core, and the JSON of a small result was measured at many times the engine run that made
it (benchmarks/trace_breakdown.py, benchmarks/API_TRACE_RESULTS.md). Here the same text is
made row by row on the calling thread. Only frames of the column types a trace's public frames
have are written this way, and only strings the two writers are known to escape alike;
anything else is left to Polars (``rows_json`` answers None). ``tests/tracing/test_json_rows.py``
checks the bytes against Polars' on the same frames.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

# Beyond about this many rows Polars is the cheaper writer (the two crossed between 97 and 312
# rows: benchmarks/API_TRACE_RESULTS.md).
MAX_ROWS = 100
# Control characters and DEL: each writer has its own escapes for them; left to Polars.
_UNSAFE = re.compile("[\x00-\x1f\x7f]")
_string = json.JSONEncoder(ensure_ascii=False).encode


def rows_json(frame: pl.DataFrame, decimals: Mapping[str, int]) -> bytes | None:
    """``text_columns(frame, decimals).write_json()`` as bytes, or None where not handled.

    Example
    -------
    >>> from decimal import Decimal
    >>> frame = pl.DataFrame({"currency": ["EUR"], "amount": [Decimal("1.5")]},
    ...                      schema_overrides={"amount": pl.Decimal(38, 8)})
    >>> rows_json(frame, {"EUR": 2})
    b'[{"currency":"EUR","amount":"1.50"}]'
    """
    if frame.height > MAX_ROWS:
        return None
    writers = []
    currencies = frame["currency"].to_list() if "currency" in frame.columns else None
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone != "UTC":
            return None  # before reading the values: a local time near the end of time overflows
        values = frame[name].to_list()
        if isinstance(dtype, pl.Decimal):
            scale = dtype.scale or 0
            if scale and currencies is not None:
                if any(c is None for c in currencies):
                    return None
                cuts = [_cut(scale, decimals.get(c, scale)) for c in currencies]
            else:
                cuts = [0] * len(values)
            pairs = zip(values, cuts, strict=True)
            texts = [None if v is None else _decimal(v, scale, k) for v, k in pairs]
        elif isinstance(dtype, pl.Datetime):
            early = any(v is not None and v.year < 1000 for v in values)
            if early:
                return None
            texts = [None if v is None else _time(v) for v in values]
        elif dtype == pl.String:
            if _UNSAFE.search("".join(v for v in values if v is not None)):
                return None
            writers.append((_key(name), [None if v is None else _string(v) for v in values]))
            continue
        elif dtype in (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64):
            writers.append((_key(name), [None if v is None else str(v) for v in values]))
            continue
        elif dtype == pl.Boolean:
            writers.append((_key(name), [None if v is None else _bool(v) for v in values]))
            continue
        else:
            return None
        writers.append((_key(name), [None if t is None else f'"{t}"' for t in texts]))
    rows = (
        "{" + ",".join(f"{key}{'null' if col[i] is None else col[i]}" for key, col in writers) + "}"
        for i in range(frame.height)
    )
    return ("[" + ",".join(rows) + "]").encode()


def _key(name: str) -> str:
    return f"{_string(name)}:"


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _cut(scale: int, places: int) -> int:
    # As tracing.result._decimal_text: no decimals at all drops the point too.
    return scale + 1 if places <= 0 else max(scale - places, 0)


def _decimal(value: Decimal, scale: int, cut: int) -> str:
    # The column's fixed-point integer, written with the column's scale, as Polars casts it.
    units = int(value.scaleb(scale))
    digits = str(abs(units)).rjust(scale + 1, "0")
    text = ("-" if units < 0 else "") + (
        f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits
    )
    return text[: len(text) - cut] if cut else text


def _time(value: datetime) -> str:
    day = f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    base = f"{day}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return f"{base}Z" if value.microsecond == 0 else f"{base}.{value.microsecond:06d}Z"
