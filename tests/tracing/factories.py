"""Tiny hand-built ledgers for the tracing tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from tracing import Ledger

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SCHEMA = {
    "external_id": pl.String,
    "from_account": pl.String,
    "to_account": pl.String,
    "amount": pl.Decimal(18, 2),
    "currency": pl.String,
    "value_time": pl.Datetime("us", "UTC"),
    "sequence": pl.Int64,
}


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A UTC time ``day`` days after 2025-03-01."""
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def frame(*rows: tuple) -> pl.DataFrame:
    """Rows ``(id, from, to, amount, time[, currency[, sequence]])``; sequence defaults to order."""
    records = []
    for n, row in enumerate(rows, start=1):
        tx_id, src, dst, amount, when, *rest = row
        currency = rest[0] if rest else "EUR"
        sequence = rest[1] if len(rest) > 1 else n
        records.append((tx_id, src, dst, Decimal(str(amount)), currency, when, sequence))
    return pl.DataFrame(records, schema=SCHEMA, orient="row")


def ledger(*rows: tuple, opening: dict[str, str] | None = None, **kwargs) -> Ledger:
    """A :class:`Ledger` of ``rows`` with optional EUR opening balances by account."""
    balances = None
    if opening:
        balances = pl.DataFrame(
            {
                "account": list(opening),
                "currency": ["EUR"] * len(opening),
                "amount": [Decimal(v) for v in opening.values()],
            },
            schema={"account": pl.String, "currency": pl.String, "amount": pl.Decimal(18, 2)},
        )
    return Ledger.from_frame(frame(*rows), opening_balances=balances, **kwargs)


def column(result_frame: pl.DataFrame, key: str, value: str) -> dict[str, object]:
    """``{account: value}`` from a result frame with an ``account`` column."""
    return dict(zip(result_frame[key].to_list(), result_frame[value].to_list(), strict=True))
