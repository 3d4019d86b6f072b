"""Results: provenance, canonical serialisation, explain."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from tests.tracing.factories import at, ledger
from tracing import ENGINE_VERSION, InvalidTraceParams, TraceParams, UnknownSeed, explain, trace
from tracing.build import Money

ROWS = (
    ("T1", "acct:S", "acct:X", "100.00", at(0)),
    ("T2", "acct:X", "acct:Y", "60.00", at(1)),
    ("T3", "acct:X", "acct:Z", "40.00", at(1, 13)),
    ("T4", "acct:Y", "acct:T", "60.00", at(2)),
    ("T5", "acct:Z", "acct:T", "40.00", at(2, 13)),
    ("T6", "acct:S", "acct:T", "1.00", at(3)),
)


def test_provenance_names_rule_policy_params_and_ledger() -> None:
    led = ledger(*ROWS)
    params = TraceParams(seed_transactions=("T1",), rule="haircut", same_day_policy="worst_case")
    result = trace(led, params)
    assert result.provenance.rule == "haircut"
    assert result.provenance.same_day_policy == "worst_case"
    assert result.provenance.params == params.to_dict()
    assert result.provenance.engine_version == ENGINE_VERSION
    assert result.provenance.ledger_fingerprint == led.fingerprint


def test_same_input_gives_byte_identical_output() -> None:
    params = TraceParams(seed_transactions=("T1",), rule="fifo")
    first, second = trace(ledger(*ROWS), params), trace(ledger(*ROWS), params)
    assert first.to_json() == second.to_json()
    assert first.digest() == second.digest()
    data = json.loads(first.to_json())
    assert set(data) == {"accounts", "flows", "exits", "flags", "provenance", "summary"}
    assert {row["account"]: row["held"] for row in data["accounts"]}["acct:T"] == "100.00"


def test_explain_ranks_paths_by_strength_then_hops() -> None:
    result = trace(ledger(*ROWS), TraceParams(seed_transactions=("T1",), rule="fifo"))
    paths = explain(result, to="acct:T", k=5)
    by_path = paths.group_by("path", maintain_order=True).agg("external_id", pl.first("strength"))
    assert by_path.rows() == [
        (1, ["T1", "T2", "T4"], Decimal("60.00")),
        (2, ["T1", "T3", "T5"], Decimal("40.00")),
    ]
    assert explain(result, to="acct:T", k=1)["path"].unique().to_list() == [1]


def test_explain_from_a_seed_account_with_reach() -> None:
    from tracing import AccountSeed

    seed = AccountSeed(account="acct:X", currency="EUR")
    result = trace(ledger(*ROWS), TraceParams(seeds=(seed,)))
    paths = explain(result, to="acct:T")
    assert paths.filter(paths["path"] == 1)["external_id"].to_list() == ["T2", "T4"]


def test_explain_errors() -> None:
    led = ledger(*ROWS)
    result = trace(led, TraceParams(seed_transactions=("T1",)))
    with pytest.raises(UnknownSeed):
        explain(result, to="acct:nowhere")
    with pytest.raises(InvalidTraceParams, match="k must"):
        explain(result, to="acct:T", k=0)
    backward = trace(led, TraceParams(seed_transactions=("T4",), direction="backward"))
    # backward, explain runs from an upstream account to the seed (tests/tracing/test_sources)
    assert "path" in explain(backward, to="acct:Y").columns


def test_flag_amounts_are_written_in_each_currencys_own_decimals() -> None:
    # Money.texts formats the inferred openings of a whole result at once; it must say exactly
    # what the exact Decimal formatting (Money.text) says, sign, zero and places included.
    book = ledger(
        ("A", "a", "b", "1", at(1), "JPY"),
        ("B", "a", "b", "1", at(1), "EUR"),
        ("C", "a", "b", "1", at(1), "BTC"),
        ("D", "a", "b", "1", at(1), "ETH"),
        currency_decimals={"JPY": 0, "EUR": 2, "BTC": 8, "ETH": 18},
    )
    money = Money(book)
    minor = np.array([0, 5, -5, 1234567, -(10**18), 10**18 + 7, 99], np.int64)
    for code in ("JPY", "EUR", "BTC", "ETH"):
        index = np.full(len(minor), money.codes.index(code), np.int64)
        expected = [money.text(int(m), code) for m in minor]
        assert money.texts(minor, index) == expected
    assert money.texts(minor[:2], np.array([money.codes.index("EUR")] * 2)) == [
        "0.00",
        "0.05",
    ]
