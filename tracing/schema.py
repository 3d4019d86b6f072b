"""Column names of the engine's input frames and their conversion to exact integer columns.

A transactions frame has the columns of :data:`TRANSACTIONS`; ``sequence`` may be missing (it
then counts as 0, so ties fall back to the transaction id). Amounts must be ``Decimal``:
a float would already have lost cents. Each amount becomes integer minor units of its currency
(``currency_decimals``, default 2 decimals), and an amount finer than its currency's unit is
rejected rather than rounded. A frame may instead carry the integer minor units themselves in
``amount_minor`` (:data:`MINOR`; what a database stores), which are taken as they are.

:func:`format_minor` is the one way money is written as text: exact, from minor units.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from tracing.errors import InvalidLedger, SchemaMismatch
from tracing.index import string_hashes

EXTERNAL_ID, FROM_ACCOUNT, TO_ACCOUNT = "external_id", "from_account", "to_account"
AMOUNT, CURRENCY, VALUE_TIME, SEQUENCE = "amount", "currency", "value_time", "sequence"
ACCOUNT = "account"
TIME_DTYPE = pl.Datetime("us", "UTC")

TRANSACTIONS = pl.Schema(
    {
        EXTERNAL_ID: pl.String(),
        FROM_ACCOUNT: pl.String(),
        TO_ACCOUNT: pl.String(),
        AMOUNT: pl.Decimal(38, 2),
        CURRENCY: pl.String(),
        VALUE_TIME: TIME_DTYPE,
        SEQUENCE: pl.Int64(),
    }
)
OPENING_BALANCES = pl.Schema(
    {ACCOUNT: pl.String(), CURRENCY: pl.String(), AMOUNT: pl.Decimal(38, 2)}
)
DEFAULT_DECIMALS = 2
# Amounts and balances stay below 2**62 minor units so sums and the exact multiply-divide of
# the pro-rata rule never overflow int64.
MAX_MINOR = 2**62
MINOR = "amount_minor"
TIME_US = "time_us"


def format_minor(minor: int, decimals: int) -> str:
    """``minor`` units of a currency with ``decimals`` decimals as an exact decimal string.

    Integer arithmetic only: never an exponent (``"0.00000005"``, not ``"5E-8"``), always
    ``decimals`` places, a minus sign for negative amounts.

    Example
    -------
    >>> format_minor(-123405, 2), format_minor(5, 8), format_minor(7, 0)
    ('-1234.05', '0.00000005', '7')
    """
    whole, fraction = divmod(abs(minor), 10**decimals)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}"


def _require(frame: pl.DataFrame, schema: pl.Schema, *, optional: set[str]) -> None:
    missing = sorted(set(schema) - set(frame.schema) - optional)
    if missing:
        raise SchemaMismatch(f"frame lacks columns {missing}")


def _time_us(frame: pl.DataFrame) -> pl.Expr:
    dtype = frame.schema[VALUE_TIME]
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            raise SchemaMismatch(f"{VALUE_TIME} must be timezone-aware (UTC), got naive {dtype}")
        return pl.col(VALUE_TIME).dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        # A date without a time is the start of that UTC day.
        return pl.col(VALUE_TIME).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    raise SchemaMismatch(f"{VALUE_TIME} must be Datetime with a time zone or Date, got {dtype}")


def decimals_of(currency_decimals: Mapping[str, int] | None, codes: list[str]) -> list[int]:
    """Decimals of each currency code: the mapping's value, else :data:`DEFAULT_DECIMALS`."""
    table = dict(currency_decimals or {})
    for code, places in table.items():
        if not 0 <= places <= 18:
            raise SchemaMismatch(f"decimals of {code!r} must be within 0..18, got {places}")
    return [table.get(code, DEFAULT_DECIMALS) for code in codes]


def minor_units(amount: pl.Expr, dtype: pl.DataType, decimals: pl.Expr) -> pl.Expr:
    """Exact integer minor units of a Decimal column, null where the amount is too fine.

    Parameters
    ----------
    amount
        The Decimal amount column.
    dtype
        Its dtype; anything but ``Decimal`` raises :class:`SchemaMismatch`.
    decimals
        Per row, the decimals of its currency (Int64).

    Returns
    -------
    polars.Expr
        Int128 minor units, null where a row has more decimals than its currency allows.

    Example
    -------
    >>> f = pl.DataFrame({"a": ["1.25"]}).select(pl.col("a").str.to_decimal(scale=2))
    >>> f.select(minor_units(pl.col("a"), f.schema["a"], pl.lit(2))).item()
    125
    """
    if not isinstance(dtype, pl.Decimal):
        raise SchemaMismatch(f"{AMOUNT} must be Decimal (money is never a float), got {dtype}")
    scale = dtype.scale
    physical = amount.to_physical().cast(pl.Int128)
    shift = decimals.cast(pl.Int64) - scale
    up = physical * pl.lit(10, pl.Int128).pow(shift.clip(lower_bound=0))
    down_factor = pl.lit(10, pl.Int128).pow((-shift).clip(lower_bound=0))
    exact = (physical % down_factor) == 0
    return pl.when(shift >= 0).then(up).when(exact).then(physical // down_factor)


def conform_transactions(
    frame: pl.DataFrame, currency_decimals: Mapping[str, int] | None
) -> tuple[pl.DataFrame, list[str], list[int]]:
    """Check a transactions frame and return it canonically sorted with integer columns.

    Returns the frame with columns ``external_id, from_account, to_account, currency,
    amount_minor (Int64), time_us (Int64), sequence (Int64)`` sorted by ``(value time,
    sequence, external id)`` (DESIGN §3), plus the currency codes in first-seen order and their
    decimals. A frame that is already in that order (the usual statement export) is not sorted
    again.
    """
    given_minor = MINOR in frame.schema and AMOUNT not in frame.schema
    if given_minor:
        _require(frame, TRANSACTIONS, optional={SEQUENCE, AMOUNT})
        if not frame.schema[MINOR].is_integer():
            raise SchemaMismatch(f"{MINOR} must be an integer column, got {frame.schema[MINOR]}")
    else:
        _require(frame, TRANSACTIONS, optional={SEQUENCE})
    for name in (EXTERNAL_ID, FROM_ACCOUNT, TO_ACCOUNT, CURRENCY):
        if frame.schema[name] != pl.String:
            raise SchemaMismatch(f"{name} must be String, got {frame.schema[name]}")
    seq = pl.col(SEQUENCE).cast(pl.Int64) if SEQUENCE in frame.schema else pl.lit(0, pl.Int64)
    codes = frame.get_column(CURRENCY).drop_nulls().unique(maintain_order=True).to_list()
    decimals = decimals_of(currency_decimals, codes)
    amount_dtype = frame.schema[MINOR if given_minor else AMOUNT]
    if given_minor:
        minor = pl.col(MINOR).cast(pl.Int128)
    elif isinstance(amount_dtype, pl.Decimal) and set(decimals) <= {amount_dtype.scale}:
        # Every currency has the column's scale: the physical integer is the minor unit.
        minor = pl.col(AMOUNT).to_physical().cast(pl.Int128)
    else:
        places = pl.col(CURRENCY).replace_strict(codes, decimals, default=DEFAULT_DECIMALS)
        minor = minor_units(pl.col(AMOUNT), amount_dtype, places)
    out = frame.select(
        pl.col(EXTERNAL_ID),
        pl.col(FROM_ACCOUNT),
        pl.col(TO_ACCOUNT),
        pl.col(CURRENCY),
        minor.alias(MINOR),
        _time_us(frame).cast(pl.Int64).alias(TIME_US),
        seq.fill_null(0).alias(SEQUENCE),
    )
    _check_rows(out, frame.get_column(MINOR if given_minor else AMOUNT))
    out = out.with_columns(pl.col(MINOR).cast(pl.Int64))
    if not _in_order(out):
        out = out.sort(TIME_US, SEQUENCE, EXTERNAL_ID)
    return out, codes, decimals


def _in_order(rows: pl.DataFrame) -> bool:
    """Whether rows are already sorted by (time, sequence, id); ids compared only on ties."""
    time = rows.get_column(TIME_US).to_numpy()
    seq = rows.get_column(SEQUENCE).to_numpy()
    if len(time) < 2:
        return True
    dt, dq = np.diff(time), np.diff(seq)
    if (dt < 0).any() or ((dt == 0) & (dq < 0)).any():
        return False
    tied = np.flatnonzero((dt == 0) & (dq == 0))
    ids = rows.get_column(EXTERNAL_ID)
    return bool((ids.gather(tied) < ids.gather(tied + 1)).all()) if len(tied) else True


def _rows(mask: pl.Series) -> str:
    rows = mask.arg_true().head(5).to_list()
    return f"rows {rows}" + (" ..." if mask.sum() > len(rows) else "")


def _check_rows(out: pl.DataFrame, amount: pl.Series) -> None:
    # One pass for all checks; row numbers are looked up only when one fails.
    minor = pl.col(MINOR)
    checks = {
        "missing values": pl.any_horizontal(pl.all().exclude(MINOR).is_null()),
        "amount finer than its currency's minor unit": minor.is_null()
        & pl.lit(amount).is_not_null(),
        "missing amount": minor.is_null(),
        "amount must be positive": minor.fill_null(1) <= 0,
        "amount too large": minor.fill_null(0) >= MAX_MINOR,
        "from_account equals to_account": pl.col(FROM_ACCOUNT) == pl.col(TO_ACCOUNT),
    }
    failed = out.select(expr.any().alias(name) for name, expr in checks.items()).row(0)
    for (message, expr), bad in zip(checks.items(), failed, strict=True):
        if bad:
            raise InvalidLedger(f"{message} in {_rows(out.select(expr).to_series())}")
    ids = out.get_column(EXTERNAL_ID)
    # Counting distinct 64-bit hashes is cheap; the exact (slow) search runs only when two
    # collide.
    hashes = pl.Series(string_hashes(ids)[0])
    if hashes.n_unique() != len(hashes):
        duplicated = ids.is_duplicated()
        if duplicated.any():
            raise InvalidLedger(f"duplicate external_id in {_rows(duplicated)}")
