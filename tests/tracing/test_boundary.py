"""The engine's public surface: minor units in, frames out and back, money as text."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tracing.factories import at, frame
from tracing import (
    PUBLIC_FRAMES,
    Frame,
    Ledger,
    Rule,
    SchemaMismatch,
    TraceParams,
    TraceResult,
    explain,
    format_minor,
    trace,
)
from tracing.result import OPTIONAL_FRAMES

ROWS = (
    ("T1", "acct:S", "acct:X", "100.00", at(0)),
    ("T2", "acct:X", "acct:Y", "60.00", at(1)),
    ("T3", "acct:X", "acct:Z", "0.05", at(1, 13), "JPY"),
    ("T4", "acct:Y", "acct:T", "60.00", at(2)),
    ("T5", "acct:X", "acct:T", "39.95", at(2, 13)),
)
DECIMALS = {"EUR": 2, "JPY": 0, "BTC": 8}


def _minor_frame(rows: pl.DataFrame) -> pl.DataFrame:
    minor = [
        int(amount.scaleb(DECIMALS[code]))
        for amount, code in zip(rows["amount"], rows["currency"], strict=True)
    ]
    return rows.with_columns(amount_minor=pl.Series(minor, dtype=pl.Int64)).drop("amount")


def _rows() -> pl.DataFrame:
    # JPY has no minor unit: its amount is written as a whole number
    return frame(*ROWS[:2], (*ROWS[2][:3], "5", *ROWS[2][4:]), *ROWS[3:])


def test_a_ledger_from_minor_units_equals_one_from_decimals() -> None:
    rows = _rows()
    by_decimal = Ledger.from_frame(rows, currency_decimals=DECIMALS)
    by_minor = Ledger.from_minor(_minor_frame(rows), DECIMALS)
    assert by_minor.fingerprint == by_decimal.fingerprint
    assert by_minor.amount.tolist() == by_decimal.amount.tolist() == [10000, 6000, 5, 6000, 3995]
    params = TraceParams(seed_transactions=("T1",), rule=Rule.LIBR)
    assert trace(by_minor, params).digest() == trace(by_decimal, params).digest()


def test_from_minor_refuses_decimal_amounts_and_non_integer_units() -> None:
    rows = _rows()
    with pytest.raises(SchemaMismatch, match="amount_minor"):
        Ledger.from_minor(rows, DECIMALS)
    as_text = _minor_frame(rows).with_columns(pl.col("amount_minor").cast(pl.String))
    with pytest.raises(SchemaMismatch, match="integer"):
        Ledger.from_minor(as_text, DECIMALS)


def test_a_ledger_appends_minor_units() -> None:
    minor = _minor_frame(_rows())
    whole = Ledger.from_minor(minor, DECIMALS)
    grown = Ledger.from_minor(minor.head(2), DECIMALS).append(minor.tail(3))
    assert grown.fingerprint == whole.fingerprint


def test_frames_round_trip_to_the_same_result() -> None:
    led = Ledger.from_frame(_rows(), currency_decimals=DECIMALS)
    result = trace(led, TraceParams(seed_transactions=("T1",), rule=Rule.FIFO))
    frames = result.to_frames()
    # every frame but the optional ones (claimants, sources), which this trace does not have
    assert list(frames) == [f for f in Frame if f not in OPTIONAL_FRAMES]
    assert all(frames[name] is getattr(result, str(name)) for name in PUBLIC_FRAMES)
    read = []
    lazily = {name: (lambda f=f, n=name: read.append(n) or f) for name, f in frames.items()}
    again = TraceResult.from_frames(lazily, summary=result.summary, provenance=result.provenance)
    assert read == []  # nothing is read before it is asked for
    assert again.digest() == result.digest()
    assert explain(again, to="acct:T").equals(explain(result, to="acct:T"))
    assert Frame.RANKS in read
    assert Frame.SEEDS in read


def test_from_frames_names_what_is_missing() -> None:
    led = Ledger.from_frame(_rows(), currency_decimals=DECIMALS)
    result = trace(led, TraceParams(seed_transactions=("T1",)))
    frames = result.to_frames()
    del frames[Frame.SEEDS]
    with pytest.raises(KeyError, match="seeds"):
        TraceResult.from_frames(frames, summary=result.summary, provenance=result.provenance)
    with pytest.raises(ValueError, match="nonsense"):
        result.frame("nonsense")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "decimals", "text"),
    [
        (123405, 2, "1234.05"),
        (-123405, 2, "-1234.05"),
        (5, 8, "0.00000005"),
        (0, 2, "0.00"),
        (-7, 0, "-7"),
        (10**18, 12, "1000000.000000000000"),
    ],
)
def test_format_minor_writes_exact_decimals(minor: int, decimals: int, text: str) -> None:
    assert format_minor(minor, decimals) == text


@given(st.integers(-(2**62), 2**62), st.integers(0, 18))
def test_format_minor_reads_back_as_the_same_amount(minor: int, decimals: int) -> None:
    text = format_minor(minor, decimals)
    assert Decimal(text).scaleb(decimals) == minor
    assert "E" not in text
    assert decimals == 0 or len(text.split(".")[1]) == decimals
