"""Column names of the engine's input frames and their conversion to exact integer columns.

A transactions frame has the columns of :data:`TRANSACTIONS`; ``sequence`` may be missing (it
then counts as 0, so ties fall back to the transaction id). Amounts must be ``Decimal``:
a float would already have lost cents. Each amount becomes integer minor units of its currency
(``currency_decimals``, default 2 decimals), and an amount finer than its currency's unit is
rejected rather than rounded.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from tracing.errors import InvalidLedger, SchemaMismatch

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
    decimals.
    """
    _require(frame, TRANSACTIONS, optional={SEQUENCE})
    for name in (EXTERNAL_ID, FROM_ACCOUNT, TO_ACCOUNT, CURRENCY):
        if frame.schema[name] != pl.String:
            raise SchemaMismatch(f"{name} must be String, got {frame.schema[name]}")
    seq = pl.col(SEQUENCE).cast(pl.Int64) if SEQUENCE in frame.schema else pl.lit(0, pl.Int64)
    codes = frame.get_column(CURRENCY).drop_nulls().unique(maintain_order=True).to_list()
    decimals = decimals_of(currency_decimals, codes)
    places = pl.col(CURRENCY).replace_strict(codes, decimals, default=DEFAULT_DECIMALS)
    out = frame.select(
        pl.col(EXTERNAL_ID),
        pl.col(FROM_ACCOUNT),
        pl.col(TO_ACCOUNT),
        pl.col(CURRENCY),
        minor_units(pl.col(AMOUNT), frame.schema[AMOUNT], places).alias(MINOR),
        _time_us(frame).cast(pl.Int64).alias(TIME_US),
        seq.fill_null(0).alias(SEQUENCE),
    )
    _check_rows(out, frame)
    out = out.with_columns(pl.col(MINOR).cast(pl.Int64))
    return out.sort(TIME_US, SEQUENCE, EXTERNAL_ID), codes, decimals


def _rows(mask: pl.Series) -> str:
    rows = mask.arg_true().head(5).to_list()
    return f"rows {rows}" + (" ..." if mask.sum() > len(rows) else "")


def _check_rows(out: pl.DataFrame, original: pl.DataFrame) -> None:
    nulls = out.select(pl.any_horizontal(pl.all().exclude(MINOR).is_null())).to_series()
    if nulls.any():
        raise InvalidLedger(f"missing values in {_rows(nulls)}")
    inexact = out.get_column(MINOR).is_null() & original.get_column(AMOUNT).is_not_null()
    if inexact.any():
        raise InvalidLedger(f"amount finer than its currency's minor unit in {_rows(inexact)}")
    checks = {
        "amount must be positive": out.get_column(MINOR).fill_null(1) <= 0,
        "amount too large": out.get_column(MINOR).fill_null(0) >= MAX_MINOR,
        "from_account equals to_account": out.get_column(FROM_ACCOUNT)
        == out.get_column(TO_ACCOUNT),
        "missing amount": out.get_column(MINOR).is_null(),
        "duplicate external_id": out.get_column(EXTERNAL_ID).is_duplicated(),
    }
    for message, mask in checks.items():
        if mask.any():
            raise InvalidLedger(f"{message} in {_rows(mask)}")
