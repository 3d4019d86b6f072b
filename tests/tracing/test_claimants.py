"""Claimants' shares of a mixed fund: worked figures, and cases drawn from the judgments."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from tests.tracing.factories import at, ledger
from tracing import AccountSeed, InvalidTraceParams, TraceParams, trace
from tracing.rules.shares import leftover


def _victims(*rows: tuple[str, str, int], account: str = "X") -> list[AccountSeed]:
    return [
        AccountSeed(account=account, currency="EUR", amount=Decimal(a), at=at(d, 9), claimant=c)
        for c, a, d in rows
    ]


def shares(result, account: str) -> dict[str, str]:
    rows = result.claimants.filter(result.claimants["account"] == account)
    return {c: str(h) for c, h in zip(rows["claimant"], rows["held"], strict=True)}


# The issue's fund: A 600 (day 1), B 400 (day 2), 500 leaves (day 3), C 500 (day 4),
# 300 leaves (day 5); 700 remains.
FUND = (("T3", "X", "Y", "500", at(3)), ("T5", "X", "Z", "300", at(5)))
VICTIMS = (("A", "600", 1), ("B", "400", 2), ("C", "500", 4))
# (rule, claimant_rule, what X holds of each claimant)
WORKED = [
    ("fifo", None, {"A": "0.00", "B": "200.00", "C": "500.00"}),
    ("haircut", "fifo", {"A": "0.00", "B": "200.00", "C": "500.00"}),
    ("haircut", None, {"A": "210.00", "B": "140.00", "C": "350.00"}),
    ("haircut", "pari_passu", {"A": "280.00", "B": "186.67", "C": "233.33"}),
    ("lifo", None, {"A": "500.00", "B": "0.00", "C": "200.00"}),
]


@pytest.mark.parametrize(
    ("rule", "claimant_rule", "want"),
    WORKED,
)
def test_worked_example_of_the_issue(rule, claimant_rule, want) -> None:
    result = trace(
        ledger(*FUND),
        TraceParams(seeds=_victims(*VICTIMS), rule=rule, claimant_rule=claimant_rule),
    )
    assert shares(result, "X") == want
    held = result.accounts.filter(result.accounts["account"] == "X")["held"][0]
    assert sum(Decimal(v) for v in want.values()) == held == Decimal("700.00")


def test_rolling_charge_carries_the_claimants_on_to_the_next_account() -> None:
    result = trace(ledger(*FUND), TraceParams(seeds=_victims(*VICTIMS), rule="haircut"))
    assert shares(result, "Y") == {"A": "300.00", "B": "200.00"}
    assert shares(result, "Z") == {"A": "90.00", "B": "60.00", "C": "150.00"}
    assert result.summary["claimants"]["A"] == {"EUR": {"held": "600.00", "exited": "0.00"}}


def test_barlow_clowes_v_vaughan_pari_passu_shares_the_loss_rateably() -> None:
    # Barlow Clowes International v Vaughan [1992] 4 All ER 22: Clayton's Case would let the
    # later investor take the whole remainder; the fund is shared pari passu ex post facto.
    # A invests 1000, 600 is dissipated, B invests 1000: 1400 remains.
    led = ledger(("L1", "X", "LOST", "600", at(2)))
    seeds = _victims(("A", "1000", 1), ("B", "1000", 3))
    fifo = trace(led, TraceParams(seeds=seeds, rule="fifo", stop_at={"LOST"}))
    assert shares(fifo, "X") == {"A": "400.00", "B": "1000.00"}
    pari = trace(
        led,
        TraceParams(seeds=seeds, rule="haircut", claimant_rule="pari_passu", stop_at={"LOST"}),
    )
    assert shares(pari, "X") == {"A": "700.00", "B": "700.00"}
    assert pari.summary["claimants"]["A"]["EUR"]["exited"] == "600.00"


def test_re_ontario_securities_commission_shares_pro_rata_not_first_in_first_out() -> None:
    # Re Ontario Securities Commission and Greymac Credit Corp (1986, Ont CA): two innocent
    # beneficiaries share a mixed trust fund pro rata to their contributions; Clayton's Case
    # is rejected. With no deposit after the dissipation, the rolling charge and pari passu
    # agree: P 300 and Q 700 in, 500 out, 500 left.
    led = ledger(("D3", "X", "OUT", "500", at(3)))
    seeds = _victims(("P", "300", 1), ("Q", "700", 2))
    rolling = trace(led, TraceParams(seeds=seeds, rule="haircut"))
    pari = trace(led, TraceParams(seeds=seeds, rule="haircut", claimant_rule="pari_passu"))
    fifo = trace(led, TraceParams(seeds=seeds, rule="fifo"))
    assert shares(rolling, "X") == shares(pari, "X") == {"P": "150.00", "Q": "350.00"}
    assert shares(fifo, "X") == {"P": "0.00", "Q": "500.00"}


def test_law_society_of_upper_canada_v_toronto_dominion_bank_pro_rata_capped_by_libr() -> None:
    # Law Society of Upper Canada v Toronto-Dominion Bank (1998, Ont CA): clients share a
    # depleted trust account pro rata, and none can claim the lawyer's later deposits: the
    # lowest intermediate balance caps what is theirs. K 400 and L 600 in, 800 taken, the
    # lawyer puts in 500 of his own, 100 more leaves.
    led = ledger(
        ("D3", "X", "OUT", "800", at(3)),
        ("D4", "OWN", "X", "500", at(4)),
        ("D5", "X", "OUT", "100", at(5)),
    )
    seeds = _victims(("K", "400", 1), ("L", "600", 2))
    capped = trace(led, TraceParams(seeds=seeds, rule="libr", claimant_rule="pari_passu"))
    assert shares(capped, "X") == {"K": "80.00", "L": "120.00"}
    # The rolling charge lets the lawyer's money dilute the taint instead: 100 x 200/700
    # carries 28.57 of it, split 11.43 / 17.14 (the odd cent to the larger remainder, K).
    rolling = trace(led, TraceParams(seeds=seeds, rule="haircut"))
    assert shares(rolling, "X") == {"K": "68.57", "L": "102.86"}


def test_shares_round_by_largest_remainder_and_sum_to_the_held_taint() -> None:
    led = ledger(("D2", "X", "OUT", "200", at(2)))
    seeds = _victims(("A", "100", 1), ("B", "100", 1), ("C", "100", 1))
    result = trace(led, TraceParams(seeds=seeds, rule="haircut", claimant_rule="pari_passu"))
    # 100.00 shared in thirds: the odd cent goes to the lowest claimant on a tie
    assert shares(result, "X") == {"A": "33.34", "B": "33.33", "C": "33.33"}


def test_seeds_without_a_claimant_are_unattributed_taint() -> None:
    seeds = [
        *_victims(("A", "600", 1)),
        AccountSeed(account="X", currency="EUR", amount=Decimal(400), at=at(2, 9)),
    ]
    result = trace(ledger(*FUND), TraceParams(seeds=seeds, rule="haircut"))
    x = result.claimants.filter(result.claimants["account"] == "X")
    assert dict(zip(x["claimant"], x["held"].cast(str), strict=True)) == {
        "A": "120.00",
        None: "80.00",
    }
    assert set(result.summary["claimants"]) == {"A"}


def test_claimant_shares_appear_in_the_canonical_json_only_when_used() -> None:
    led = ledger(*FUND)
    plain = [AccountSeed(account="X", currency="EUR", amount=Decimal(600), at=at(1, 9))]
    without = json.loads(trace(led, TraceParams(seeds=plain, rule="haircut")).to_json())
    assert "claimants" not in without
    assert "claimants" not in without["summary"]
    assert "claimant_rule" not in without["provenance"]["params"]
    assert "claimant" not in without["provenance"]["params"]["seeds"][0]
    with_them = json.loads(
        trace(led, TraceParams(seeds=_victims(*VICTIMS), rule="haircut")).to_json()
    )
    assert with_them["provenance"]["params"]["claimant_rule"] == "pro_rata"
    assert {"account": "X", "currency": "EUR", "claimant": "C"} | {
        "received": "500.00",
        "held": "350.00",
    } in with_them["claimants"]


@pytest.mark.parametrize(
    ("rule", "claimant_rule", "says"),
    [
        ("poison", None, "no shares"),
        ("reach", None, "no shares"),
        ("fifo", "pro_rata", "follow the lots"),
        ("lifo", "fifo", "follow the lots"),
        ("haircut", "lifo", "needs rule lifo"),
    ],
)
def test_claimants_are_refused_where_they_have_no_meaning(rule, claimant_rule, says) -> None:
    with pytest.raises(InvalidTraceParams, match=says):
        TraceParams(seeds=_victims(*VICTIMS), rule=rule, claimant_rule=claimant_rule)


def test_claimant_rule_without_claimants_is_refused() -> None:
    seed = AccountSeed(account="X", currency="EUR", amount=Decimal(1))
    with pytest.raises(InvalidTraceParams, match="needs at least one seed with a claimant"):
        TraceParams(seeds=[seed], rule="haircut", claimant_rule="pari_passu")


# The same fund, the victims' money arriving as payments into it: seed transactions.
PAID_IN = (
    ("TA", "VA", "X", "600", at(1)),
    ("TB", "VB", "X", "400", at(2)),
    ("TC", "VC", "X", "500", at(4)),
)
PAYERS = {"TA": "A", "TB": "B", "TC": "C"}


@pytest.mark.parametrize(
    ("rule", "claimant_rule", "want"),
    WORKED,
)
def test_seed_transactions_carry_their_claimants_through_the_worked_example(
    rule, claimant_rule, want
) -> None:
    params = TraceParams(
        seed_transactions=tuple(PAYERS),
        transaction_claimants=PAYERS,
        rule=rule,
        claimant_rule=claimant_rule,
    )
    result = trace(ledger(*PAID_IN, *FUND), params)
    assert shares(result, "X") == want
    assert sum(Decimal(v) for v in want.values()) == Decimal("700.00")
    c = result.claimants.filter(result.claimants["claimant"] == "C")
    assert result.summary["claimants"]["C"]["EUR"]["held"] == str(c["held"].sum())


def test_a_seed_transaction_without_a_claimant_stays_unattributed_beside_named_ones() -> None:
    params = TraceParams(
        seeds=_victims(("A", "600", 1)),
        seed_transactions=("TB", "TC"),
        transaction_claimants={"TC": "C"},
        rule="haircut",
    )
    result = trace(ledger(*PAID_IN[1:], *FUND), params)
    # rolling charge: A 600 and the unattributed 400 pay 500 out, C 500 joins, 300 leaves
    assert shares(result, "X") == {"A": "210.00", "C": "350.00", None: "140.00"}
    assert set(result.summary["claimants"]) == {"A", "C"}
    assert shares(result, "Y") == {"A": "300.00", None: "200.00"}
    named = json.loads(result.to_json())["provenance"]["params"]
    assert named["transaction_claimants"] == {"TC": "C"}
    assert named["claimant_rule"] == "pro_rata"


def test_a_seed_transaction_after_as_of_gives_its_claimant_nothing() -> None:
    params = TraceParams(
        seed_transactions=("TA", "TC"),
        transaction_claimants={"TA": "A", "TC": "C"},
        rule="haircut",
        as_of=at(3, 18),
    )
    result = trace(ledger(*PAID_IN, *FUND), params)
    # B's 400 is clean money here; C's payment comes after as_of: A keeps 600 x 500/1000
    assert shares(result, "X") == {"A": "300.00"}


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"transaction_claimants": {"T9": "A"}}, "names no seed transaction: T9"),
        ({"transaction_claimants": (("TA", "A"), ("TA", "B"))}, "one claimant, not several"),
        ({"transaction_claimants": {"TA": " "}}, "must not be blank"),
        ({"transaction_claimants": {"TA": "A"}, "rule": "poison"}, "no shares"),
        (
            {"transaction_claimants": {"TA": "A"}, "direction": "backward"},
            "claimants are traced forward",
        ),
    ],
)
def test_transaction_claimants_are_checked(kwargs, says) -> None:
    with pytest.raises(InvalidTraceParams, match=says):
        TraceParams(seed_transactions=("TA",), **{"rule": "haircut", **kwargs})


def test_largest_remainders_of_many_pieces_by_partition_as_by_rescanning() -> None:
    # A hub's origins (backward) are thousands of pieces: the units left over are placed by a
    # partition, not by rescanning every piece per unit; both must pick the same pieces.
    rng = np.random.default_rng(3)
    for n in (40, 300, 2000):
        pieces = np.zeros((n, 3), np.int64)
        pieces[:, 1] = rng.permutation(n) + 1  # labels, unique
        pieces[:, 2] = rng.integers(0, 7, n)  # remainders, many ties
        units = int(rng.integers(1, n))
        want = np.zeros(n, np.int64)
        order = sorted(range(n), key=lambda k: (-pieces[k, 2], pieces[k, 1]))
        want[order[:units]] = 1
        leftover(pieces, 0, n, units)
        assert pieces[:, 0].tolist() == want.tolist()
