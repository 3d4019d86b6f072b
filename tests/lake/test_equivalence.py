"""The Spark engine gives the in-memory engine's accounts, flows, exits, flags and summary.

Every rule x direction x same-day policy, on the classic cases of tests/tracing/test_rules.py
(laid side by side in one ledger, each under its own account prefix, and traced together) and
on random ledgers full of same-day events, two currencies and same-day cycles. The Spark search
runs once per (parameters, direction, policy): it does not depend on the rule, and each rule
is then run on its sub-ledger through the same call the service makes.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lake import Lake, search, trace_subledger
from tests.lake.conftest import lake_rows
from tests.tracing.factories import SCHEMA, at, frame
from tracing import AccountSeed, Ledger, TraceParams, TracingError, trace

pytestmark = pytest.mark.spark

RULES = ("reach", "poison", "haircut", "fifo", "lifo", "libr")
POLICIES = ("ledger", "worst_case", "best_case")

# (case, rows) of tests/tracing/test_rules.py: the seeds are each case's T1.
CLASSIC = {
    "fifo": [
        ("T1", "V", "X", "1000.00", at(0)),
        ("T2", "I", "X", "500.00", at(1)),
        ("T3", "X", "Y", "1200.00", at(2)),
    ],
    "hallett": [
        ("T0", "own", "X", "500.00", at(0)),
        ("T1", "trust", "X", "1000.00", at(1)),
        ("T2", "X", "shop", "700.00", at(2)),
    ],
    "roscoe": [
        ("T1", "victim", "X", "455.81", at(0)),
        ("T2", "X", "spent", "430.63", at(1)),
        ("T3", "clean", "X", "2000.00", at(2)),
    ],
    "zero": [
        ("T1", "victim", "X", "100.00", at(0)),
        ("T2", "X", "Y", "100.00", at(1)),
        ("T3", "clean", "X", "100.00", at(2)),
        ("T4", "X", "Z", "100.00", at(3)),
    ],
    "overdraft": [
        ("T1", "victim", "X", "100.00", at(0)),
        ("T2", "X", "Y", "150.00", at(1)),
        ("T3", "victim", "X", "80.00", at(2)),
    ],
    "haircut": [
        ("T0", "clean", "X", "2.00", at(0)),
        ("T1", "victim", "X", "1.00", at(1)),
        ("T2", "X", "A", "1.00", at(2)),
        ("T3", "X", "B", "1.00", at(3)),
        ("T4", "X", "C", "0.99", at(4)),
    ],
    "lifo": [
        ("T0", "clean", "X", "100.00", at(0)),
        ("T1", "victim", "X", "50.00", at(1)),
        ("T2", "X", "Y", "150.00", at(2)),
        ("T3", "Y", "Z", "100.00", at(3)),
    ],
    "same_day": [
        ("T1", "victim", "X", "100.00", at(0)),
        ("T2", "X", "Y", "100.00", at(1, 9)),
        ("T3", "clean", "X", "100.00", at(1, 15)),
        ("T4", "X", "Y", "150.00", at(1, 18)),
    ],
    "chain": [
        ("T1", "A", "B", "100.00", at(0)),
        ("T2", "B", "C", "90.00", at(1)),
        ("T3", "C", "D", "80.00", at(2)),
        ("T4", "D", "E", "70.00", at(3)),
        ("T5", "E", "F", "60.00", at(4)),
        ("T6", "F", "G", "50.00", at(5)),
        ("T7", "G", "H", "40.00", at(6)),
    ],
}


def _classic_frame() -> pl.DataFrame:
    rows = [
        (f"{case}:{tx}", f"acct:{case}:{src}", f"acct:{case}:{dst}", amount, when)
        for case, txs in CLASSIC.items()
        for tx, src, dst, amount, when in txs
    ]
    return frame(*rows)


def _random_frame(seed: int, n_tx: int = 80) -> pl.DataFrame:
    rng = random.Random(seed)
    accounts = [f"acct:r{i}" for i in range(9)]
    rows = []
    for i in range(n_tx):
        src, dst = rng.sample(accounts, 2)
        when = at(rng.randint(0, 4), rng.choice([0, 9, 9, 18]))
        currency = rng.choice(["EUR", "EUR", "EUR", "JPY"])
        amount = Decimal(rng.randint(1, 50_000)).scaleb(0 if currency == "JPY" else -2)
        rows.append((f"R{i:03d}", src, dst, amount, currency, when, rng.randint(0, 2)))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row").with_columns(
        pl.col("amount").cast(pl.Decimal(18, 2))
    )


def _same(spark_result, memory_result) -> None:
    for name in ("accounts", "flows", "exits", "flags"):
        assert_frame_equal(getattr(spark_result, name), getattr(memory_result, name))
    assert spark_result.summary == memory_result.summary


def _check(spark, lake: Lake, ledger: Ledger, params: dict, policy: str, direction: str) -> int:
    """Search once, then every rule of ``direction``; the rules compared run on memory."""
    rules = RULES if direction == "forward" else ("reach",)
    base = TraceParams(direction=direction, same_day_policy=policy, **params)
    sub = search(spark, lake, base)
    for rule in rules:
        p = TraceParams(direction=direction, same_day_policy=policy, rule=rule, **params)
        try:
            want = trace(ledger, p)
        except TracingError as error:
            with pytest.raises(type(error)):
                trace_subledger(sub, p, master="local[1]")
            continue
        got = trace_subledger(sub, p, master="local[1]")
        _same(got, want)
        assert got.provenance.ledger_fingerprint == ledger.fingerprint
    return sub.rows.height


CLASSIC_PARAMS = {
    "all": {"seed_transactions": tuple(f"{case}:T1" for case in CLASSIC)},
    "limited": {
        "seed_transactions": tuple(f"{case}:T1" for case in CLASSIC),
        "max_hops": 2,
        "min_amount": Decimal("50.00"),
        "stop_at": frozenset({"acct:lifo:Y", "acct:zero:Z"}),
        "max_counterparties": 2,
        "window_end": at(5),
    },
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("variant", sorted(CLASSIC_PARAMS))
def test_classic_cases_match_memory(spark, tmp_path, variant, direction, policy) -> None:
    data = _classic_frame()
    lake = Lake(tmp_path / "lake")
    lake.append(lake_rows(data), decimals={"EUR": 2}, buckets=8)
    ledger = Ledger.from_frame(data)
    params = dict(CLASSIC_PARAMS[variant])
    if direction == "backward":
        # Backward from where each case's money went: the last transaction of each case.
        params["seed_transactions"] = tuple(f"{case}:{txs[-1][0]}" for case, txs in CLASSIC.items())
    size = _check(spark, lake, ledger, params, policy, direction)
    # A local trace's sub-ledger is the traced cases' accounts, never the whole lake.
    assert 0 < size <= ledger.n_transactions


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("seed", [1])
def test_random_ledgers_match_memory(spark, tmp_path, seed, policy) -> None:
    data = _random_frame(seed)
    decimals = {"EUR": 2, "JPY": 0}
    lake = Lake(tmp_path / "lake")
    # Two source documents: the lake is built by two syncs.
    rows = lake_rows(data, decimals=decimals)
    lake.append(
        rows.head(40).with_columns(pl.lit("d1").alias("source_document")),
        decimals=decimals,
        buckets=8,
    )
    lake.append(
        rows.with_columns(pl.lit("d2").alias("source_document")).tail(40), decimals=decimals
    )
    ledger = Ledger.from_frame(data, currency_decimals=decimals)
    assert lake.require_manifest().id == ledger.fingerprint
    rng = random.Random(seed * 7 + POLICIES.index(policy))
    first = data.sort("value_time").row(0, named=True)
    forward = {
        "seeds": (
            AccountSeed(account=first["from_account"], currency="EUR", amount=Decimal("300.00")),
            AccountSeed(account="acct:r3", currency="JPY", amount=Decimal("900"), at=at(1)),
        ),
        "seed_transactions": tuple(rng.sample(data["external_id"].to_list(), 2)),
        "max_hops": rng.randint(2, 5),
        "max_counterparties": rng.choice([None, 4]),
        "window_start": at(0) - timedelta(hours=1),
    }
    _check(spark, lake, ledger, forward, policy, "forward")
    backward = {
        "seeds": (AccountSeed(account="acct:r5", currency="EUR", at=at(3)),),
        "seed_transactions": tuple(rng.sample(data["external_id"].to_list(), 2)),
        "max_hops": rng.randint(2, 5),
        "min_amount": Decimal("100"),
        "stop_at": frozenset({"acct:r7"}),
    }
    _check(spark, lake, ledger, backward, policy, "backward")
