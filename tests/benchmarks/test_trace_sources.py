"""The benchmark's plain-Python sources replay agrees with the engine (benchmarks/trace_sources)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from benchmarks.synthetic import generate_ledger
from benchmarks.trace_sources import engine_sources, handed_reach, python_sources
from tests.tracing.factories import at, ledger
from tracing import Ledger, Rule, TraceParams, trace

# M (opening 10 given) is paid by X (below the minimum: unfollowed), A (the money of H, two
# hops back: the hop limit), B (given 50, pays 100: the rest is bank credit) and D (stopped);
# E1 overdraws M by 35, which C's deposit repays before PAY.
ROWS = (
    ("X1", "X", "M", "5", at(0)),
    ("H1", "H", "A", "300", at(1)),
    ("A1", "A", "M", "250", at(2)),
    ("B1", "B", "M", "100", at(2, 13)),
    ("D1", "D", "M", "20", at(2, 14)),
    ("E1", "M", "Q", "420", at(2, 18)),
    ("C1", "C", "M", "200", at(2, 20)),
    ("PAY", "M", "P", "180", at(3)),
)
OPENING = {"M": "10", "B": "50"}


def _peer(led: Ledger, tx: str, rule: str, **search) -> tuple[dict, dict]:
    params = TraceParams(seed_transactions=[tx], rule=rule, direction="backward", **search)
    result = trace(led, params)
    universe, sinks = handed_reach(led, result, params.max_hops)
    seed = int(led.positions_of([tx])[0])
    return python_sources(led, universe, sinks, seed, Rule(rule)), engine_sources(led, result)


HAND = {"max_hops": 2, "min_amount": Decimal("10"), "stop_at": {"D"}}


@pytest.mark.parametrize("rule", ["fifo", "haircut"])
def test_python_sources_of_an_overdrawing_payment(rule) -> None:
    led = ledger(*ROWS, opening=OPENING)
    got, want = _peer(led, "E1", rule, **HAND)
    assert got == want
    m, x, h, b, d = (int(n) for n in led.account_ids(["M", "X", "H", "B", "D"]))
    # every unit M held, B's bank's 50 of credit beside B's own 50, and 35 of M's credit
    assert got == {
        (m, "opening_balance"): 1000,
        (x, "unfollowed"): 500,
        (h, "hop_limit"): 25000,
        (b, "opening_balance"): 5000,
        (b, "overdraft"): 5000,
        (d, "stopped_account"): 2000,
        (m, "overdraft"): 3500,
    }


@pytest.mark.parametrize("rule", ["fifo", "haircut"])
def test_python_sources_after_the_bank_was_repaid(rule) -> None:
    led = ledger(*ROWS, opening=OPENING)
    got, want = _peer(led, "PAY", rule, **HAND)
    assert got == want
    m, c = (int(n) for n in led.account_ids(["M", "C"]))
    # C's 200 first repaid M's 35 of credit: PAY is the 165 left and 15 of new credit
    assert got == {(c, "opening_balance"): 16500, (m, "overdraft"): 1500}


@pytest.mark.parametrize("rule", ["fifo", "haircut"])
def test_python_sources_infer_openings_up_to_the_payments_time(rule) -> None:
    # LATE shares PAY's time: the replay runs to that time, so M needs 200 of its own
    led = ledger(
        ("S1", "S", "M", "600", at(1)),
        ("PAY", "M", "P", "500", at(3)),
        ("LATE", "M", "Q", "300", at(3)),
    )
    got, want = _peer(led, "PAY", rule)
    assert got == want
    m = int(led.account_ids(["M"])[0])
    assert got[m, "opening_balance"] == (20000 if rule == "fifo" else 12500)


@pytest.fixture(scope="module")
def generated() -> tuple[Ledger, str]:
    led = Ledger.from_frame(generate_ledger(5_000))
    # the latest payment of the account with the most inflows: a wide backward universe
    payer = int(np.argmax(np.diff(led.adj.in_ptr)))
    paid = np.flatnonzero(led.src == payer)
    return led, led.external_ids[int(paid[np.argmax(led.time[paid])])]


@pytest.mark.parametrize("rule", ["fifo", "haircut"])
@pytest.mark.parametrize("cutoff", [50, None])
def test_python_sources_agree_on_a_generated_ledger(generated, rule, cutoff) -> None:
    led, tx = generated
    got, want = _peer(led, tx, rule, max_counterparties=cutoff)
    assert got == want
    assert len(got) > 3
