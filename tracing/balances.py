"""Opening balances: known balances of accounts before their first record."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from tracing.errors import InvalidLedger, SchemaMismatch
from tracing.schema import (
    ACCOUNT,
    AMOUNT,
    CURRENCY,
    MINOR,
    OPENING_BALANCES,
    decimals_of,
    minor_units,
)


def parse_opening_balances(
    frame: pl.DataFrame | None, decimals: Mapping[str, int]
) -> dict[tuple[str, str], int]:
    """Check ``account, currency, amount`` rows; return minor units by (account, currency).

    Example
    -------
    >>> from decimal import Decimal
    >>> rows = pl.DataFrame({"account": ["acct:1"], "currency": ["EUR"],
    ...                      "amount": [Decimal("12.50")]})
    >>> parse_opening_balances(rows, {"EUR": 2})
    {('acct:1', 'EUR'): 1250}
    """
    if frame is None or frame.height == 0:
        return {}
    missing = sorted(set(OPENING_BALANCES) - set(frame.schema))
    if missing:
        raise SchemaMismatch(f"opening balances lack columns {missing}")
    codes = frame.get_column(CURRENCY).unique(maintain_order=True).to_list()
    places = decimals_of(decimals, codes)
    minor = frame.select(
        pl.col(ACCOUNT),
        pl.col(CURRENCY),
        minor_units(
            pl.col(AMOUNT), frame.schema[AMOUNT], pl.col(CURRENCY).replace_strict(codes, places)
        ).alias(MINOR),
    )
    if minor.get_column(MINOR).is_null().any() or minor.get_column(MINOR).lt(0).any():
        raise InvalidLedger("opening balances must be non-negative and exact in minor units")
    if minor.select(pl.struct(ACCOUNT, CURRENCY).is_duplicated().any()).item():
        raise InvalidLedger("an account has two opening balances in one currency")
    return {(a, c): int(m) for a, c, m in minor.iter_rows()}
