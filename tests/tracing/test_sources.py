"""Sources of funds: value rules traced backward, with worked figures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.tracing.factories import at, ledger
from tracing import AccountSeed, InvalidTraceParams, TraceParams, explain, trace

# Two payers fund M; M pays P (the payment asked about).
ROWS = (
    ("V1", "S1", "M", "600", at(1)),
    ("V2", "S2", "M", "400", at(2)),
    ("PAY", "M", "P", "500", at(3)),
)


def sources(result) -> dict[tuple[str, str], str]:
    s = result.sources
    return {(o, r): str(a) for o, r, a in zip(s["origin"], s["reason"], s["amount"], strict=True)}


@pytest.mark.parametrize(
    ("rule", "want"),
    [
        ("fifo", {("S1", "opening_balance"): "500.00"}),
        ("lifo", {("S2", "opening_balance"): "400.00", ("S1", "opening_balance"): "100.00"}),
        ("haircut", {("S1", "opening_balance"): "300.00", ("S2", "opening_balance"): "200.00"}),
    ],
)
def test_whose_money_was_this_payment(rule, want) -> None:
    result = trace(
        ledger(*ROWS),
        TraceParams(seed_transactions=["PAY"], rule=rule, direction="backward"),
    )
    assert sources(result) == want
    assert result.summary["measure"] == "sources"
    assert result.summary["currencies"] == {"EUR": {"seeded": "500.00", "sourced": "500.00"}}
    assert set(result.sources["hop"]) == {1}


def test_an_account_at_the_hop_limit_is_an_origin() -> None:
    result = trace(
        ledger(*ROWS),
        TraceParams(seed_transactions=["PAY"], rule="haircut", direction="backward", max_hops=1),
    )
    assert sources(result) == {("S1", "hop_limit"): "300.00", ("S2", "hop_limit"): "200.00"}


def test_an_account_seed_is_traced_for_its_whole_balance() -> None:
    seed = AccountSeed(account="M", currency="EUR", at=at(2, 18))
    result = trace(ledger(*ROWS), TraceParams(seeds=[seed], rule="fifo", direction="backward"))
    assert sources(result) == {
        ("S1", "opening_balance"): "600.00",
        ("S2", "opening_balance"): "400.00",
    }


def test_own_money_of_the_paying_account_is_its_opening_balance() -> None:
    rows = (*ROWS, ("PAY2", "M", "Q", "900", at(4)))
    result = trace(
        ledger(*rows),
        TraceParams(seed_transactions=["PAY2"], rule="fifo", direction="backward"),
    )
    # M needs 400 of its own (inferred): its oldest lot, so PAY took it and 100 of S1 first
    assert sources(result) == {
        ("S1", "opening_balance"): "500.00",
        ("S2", "opening_balance"): "400.00",
    }
    lifo = trace(
        ledger(*rows),
        TraceParams(seed_transactions=["PAY2"], rule="lifo", direction="backward"),
    )
    # newest first: PAY took S2's 400 and 100 of S1; PAY2 takes S1's 500 and M's own 400
    assert sources(lifo) == {
        ("M", "opening_balance"): "400.00",
        ("S1", "opening_balance"): "500.00",
    }
    assert lifo.sources.filter(lifo.sources["origin"] == "M")["hop"][0] == 0


def test_backward_sources_and_forward_claimants_agree() -> None:
    # Duality: the sources of M's balance, seeded forward as claimants, give M that balance.
    led = ledger(*ROWS)
    for rule in ("fifo", "lifo", "haircut"):
        seed = AccountSeed(account="M", currency="EUR", at=at(3, 18))
        back = trace(led, TraceParams(seeds=[seed], rule=rule, direction="backward"))
        forward_seeds = [
            AccountSeed(account=o, currency="EUR", amount=Decimal(total), claimant=o)
            for o, total in (("S1", 600), ("S2", 400))
        ]
        fwd = trace(led, TraceParams(seeds=forward_seeds, rule=rule, as_of=at(3, 18)))
        held = fwd.claimants.filter(fwd.claimants["account"] == "M")
        got = {c: str(h) for c, h in zip(held["claimant"], held["held"], strict=True) if h}
        assert got == {o: a for (o, _), a in sources(back).items()}, rule


def test_each_inflow_is_labelled_with_its_own_origin() -> None:
    # Hypothesis' shrunk example (seed 2): the node numbers (acct:2, acct:0, acct:1 by first
    # appearance) and the origins' names (acct:0, acct:1, acct:2) order the origins as a
    # cycle, and a wrongly inverted label map named T02's payer acct:1 (whose T01 comes after
    # the seed T00 in ledger order: T02, T03, T00, T01).
    when = at(0, 0)
    rows = (
        ("T00", "acct:0", "acct:1", "0.01", when, "EUR", 1),
        ("T01", "acct:1", "acct:0", "0.01", when, "EUR", 1),
        ("T02", "acct:2", "acct:0", "0.01", when, "EUR", 0),
        ("T03", "acct:0", "acct:1", "0.01", when, "EUR", 0),
    )
    params = TraceParams(
        seed_transactions=["T00"],
        rule="fifo",
        direction="backward",
        max_hops=1,
        same_day_policy="ledger",
    )
    # acct:0's inferred opening 0.01 leaves with T03 (fifo), so T00 carries T02's money
    assert sources(trace(ledger(*rows), params)) == {("acct:2", "hop_limit"): "0.01"}


@pytest.mark.parametrize(
    ("rule", "why"), [("libr", "LIBR measures one taint"), ("poison", "exposure")]
)
def test_libr_and_poison_cannot_trace_backward(rule, why) -> None:
    with pytest.raises(InvalidTraceParams, match=why):
        TraceParams(seed_transactions=["PAY"], rule=rule, direction="backward")


def test_explain_runs_backward_from_an_origin_to_the_payment() -> None:
    rows = (("W0", "S0", "S1", "700", at(0)), *ROWS)
    result = trace(
        ledger(*rows),
        TraceParams(seed_transactions=["PAY"], rule="haircut", direction="backward"),
    )
    paths = explain(result, to="S0")
    assert paths["external_id"].to_list() == ["W0", "V1", "PAY"]
    assert set(paths["path"]) == {1}
