"""A small frame's canonical JSON written in Python (tracing.json_rows) is Polars' byte for byte;
a result's digest is the same whichever writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from tests.tracing.factories import at, ledger
from tracing import TraceParams, json_rows, trace
from tracing.result import text_columns

DECIMALS = {"EUR": 2, "JPY": 0, "BTC": 8, "KWD": 3}
LEDGER = (
    ("T1", "acct:A", "acct:B", "100.00", at(0)),
    ("T2", "acct:B", "acct:C", "60.00", at(1)),
    ("T3", "acct:B", 'ext:Café "Zürich" \\ 東京', "40.00", at(2)),
    ("T4", "acct:X", "acct:B", "10.00", at(1, 6)),
)


def polars_json(frame: pl.DataFrame) -> bytes:
    return text_columns(frame, DECIMALS).write_json().encode()


def test_amounts_times_and_text_as_polars_writes_them() -> None:
    frame = pl.DataFrame(
        {
            "account": ["a", 'q"uote\\', "ünï 東京 🙂", None, "x/y", "z"],
            "currency": ["EUR", "JPY", "BTC", "KWD", "XXX", "EUR"],
            "hops": [0, -3, None, 2**40, 7, 1],
            "at": [
                datetime(2026, 1, 10, 10, tzinfo=UTC),
                datetime(2026, 1, 10, 10, 0, 0, 5, tzinfo=UTC),
                None,
                datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                datetime(2026, 6, 1, tzinfo=UTC),
                datetime(2026, 6, 1, 0, 0, 1, 120000, tzinfo=UTC),
            ],
            "amount": [
                Decimal("24900"),
                Decimal("-1500"),
                Decimal("0.00000005"),
                Decimal("-0.125"),
                Decimal("3.14159265"),
                None,
            ],
            "flag": [True, False, None, True, False, True],
        },
        schema_overrides={"amount": pl.Decimal(38, 8), "at": pl.Datetime("us", "UTC")},
    )
    assert json_rows.rows_json(frame, DECIMALS) == polars_json(frame)
    assert json_rows.rows_json(frame.head(0), DECIMALS) == polars_json(frame.head(0))
    no_currency = frame.drop("currency")
    assert json_rows.rows_json(no_currency, DECIMALS) == polars_json(no_currency)


def test_what_it_does_not_handle_is_left_to_polars() -> None:
    control = pl.DataFrame({"detail": ["line\nbreak"]})
    floats = pl.DataFrame({"share": [0.1]})
    big = pl.DataFrame({"n": list(range(json_rows.MAX_ROWS + 1))})
    # a local time at the end of the range overflows Python's datetime when read as one
    late = pl.DataFrame({"at": [datetime(9999, 12, 31, 23, tzinfo=UTC)]}).with_columns(
        pl.col("at").dt.convert_time_zone("Pacific/Kiritimati")
    )
    for frame in (control, floats, big, late):
        assert json_rows.rows_json(frame, DECIMALS) is None


@pytest.mark.parametrize("rule", ["reach", "fifo", "libr", "haircut"])
def test_a_results_json_is_the_same_bytes_either_way(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = TraceParams(seed_transactions=("T1",), rule=rule)
    fast = trace(ledger(*LEDGER), params).to_json_bytes()
    monkeypatch.setattr("tracing.result.rows_json", lambda frame, decimals: None)
    assert trace(ledger(*LEDGER), params).to_json_bytes() == fast
