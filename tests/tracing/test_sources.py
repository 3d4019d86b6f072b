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


@pytest.mark.parametrize("rule", ["fifo", "lifo", "haircut"])
def test_the_bank_credit_is_the_overdrawn_payers(rule) -> None:
    # B holds 50 and pays 100 to M: its bank lent the other 50. M, never overdrawn, pays the
    # 100 on: half B's money, half B's bank's, none of it M's overdraft.
    rows = (
        ("IN", "S", "B", "20", at(1)),
        ("B-M", "B", "M", "100", at(2)),
        ("PAY", "M", "P", "100", at(3)),
    )
    result = trace(
        ledger(*rows, opening={"B": "30"}),
        TraceParams(seed_transactions=["PAY"], rule=rule, direction="backward"),
    )
    assert sources(result) == {
        ("B", "overdraft"): "50.00",
        ("B", "opening_balance"): "30.00",
        ("S", "opening_balance"): "20.00",
    }
    hops = dict(zip(result.sources["origin"], result.sources["hop"], strict=True))
    assert hops == {"B": 1, "S": 2}


@pytest.mark.parametrize("rule", ["fifo", "lifo", "haircut"])
def test_an_account_seed_holding_a_payers_bank_credit_is_composed_whole(rule) -> None:
    # M's balance holds what B's bank lent B: it is sourced to that credit, not left out (the
    # lot and pro-rata replays had dropped it and stopped on a conservation error).
    rows = (
        ("B-M", "B", "M", "100", at(2)),
        ("IN", "S", "M", "40", at(3)),
    )
    seed = AccountSeed(account="M", currency="EUR", at=at(4))
    result = trace(
        ledger(*rows, opening={"B": "60"}),
        TraceParams(seeds=[seed], rule=rule, direction="backward"),
    )
    assert sources(result) == {
        ("B", "opening_balance"): "60.00",
        ("B", "overdraft"): "40.00",
        ("S", "opening_balance"): "40.00",
    }
    assert result.summary["currencies"]["EUR"] == {"seeded": "140.00", "sourced": "140.00"}


def _lot_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose fifo seeds by replaying every account's lots (the labelled replay), as the
    engine did before it read them from queue intervals."""
    import numpy as np

    from tracing import sources as module
    from tracing.labelled import replay_labelled
    from tracing.params import ClaimantRule, Rule

    def by_lots(ev, placed, labels, events, seeds, nodes, n_labels, cancelled):
        slots = events.slots_of(seeds.tx)
        capture = np.full(len(ev.route), -1, np.int64)
        hit = (seeds.tx >= 0) & (slots >= 0)
        capture[slots[hit]] = np.flatnonzero(hit)
        return replay_labelled(
            Rule.FIFO,
            ClaimantRule.FIFO,
            ev,
            placed,
            labels._replace(capture=capture),
            np.zeros(len(nodes), np.int64),
            n_labels,
            keep_received=False,
            cancelled=cancelled,
        )

    monkeypatch.setattr(module, "_fifo", by_lots)


@pytest.mark.parametrize("policy", ["ledger", "worst_case", "best_case"])
def test_fifo_sources_from_queue_intervals_equal_the_lot_replay(
    policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Payments of busy accounts and whole balances, over a generated ledger with overdrafts,
    # cut-offs and hop limits: the canonical results are byte-identical both ways.
    from datetime import UTC, datetime

    import numpy as np
    import polars as pl

    from benchmarks.synthetic import generate_ledger
    from tracing import Ledger

    rows = generate_ledger(20_000, seed=5)
    # Given openings of nothing for every third account: they overdraw, and later deposits
    # repay the bank first.
    accounts = rows["from_account"].unique().sort()[::3]
    zero = pl.DataFrame(
        {"account": accounts, "currency": "EUR", "amount": pl.Series([Decimal(0)] * len(accounts))}
    )
    book = Ledger.from_frame(rows, opening_balances=zero)
    rng = np.random.default_rng(1)
    payers = np.flatnonzero(np.diff(book.adj.out_ptr) > 2)
    options = {"rule": "fifo", "direction": "backward", "same_day_policy": policy}
    cases = []
    for i, node in enumerate(rng.choice(payers, 12, replace=False).tolist()):
        paid = np.flatnonzero(book.src == node)
        pick = int(rng.choice(paid))
        limits = {"max_hops": int(rng.integers(2, 9)), "max_counterparties": [None, 20, 5][i % 3]}
        limits.update(options)
        if i % 2:
            key = book.account_keys[int(book.node_account[node])]
            when = datetime.fromtimestamp(int(book.time[pick]) / 1e6, UTC)
            seed = AccountSeed(account=key, currency="EUR", at=when)
            cases.append(TraceParams(seeds=[seed], **limits))
        else:
            cases.append(TraceParams(seed_transactions=[book.external_ids[pick]], **limits))
    by_intervals = [trace(book, c).to_json_bytes() for c in cases]
    _lot_replay(monkeypatch)
    by_lots = [trace(book, c).to_json_bytes() for c in cases]
    assert by_intervals == by_lots
    assert all(b'"opening_balance"' in r or b'"hop_limit"' in r for r in by_intervals)
    assert sum(b'"overdraft"' in r for r in by_intervals) >= 3
