"""One classic tracing scenario per test, worked through with numbers."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from polars.testing import assert_frame_equal

from tests.tracing.factories import at, column, ledger
from tracing import AccountSeed, Rule, TraceParams, trace


def held(result) -> dict[str, Decimal]:
    return column(result.accounts, "account", "held")


def run(led, rule, *, seeds=(), txs=(), **kwargs):
    return trace(led, TraceParams(seeds=seeds, seed_transactions=txs, rule=rule, **kwargs))


def test_fifo_claytons_case_between_innocent_contributors() -> None:
    # Victim V's 1000 and innocent I's 500 meet in X; X pays 1200 to Y. First in, first out:
    # the payment takes all of V's money and 200 of I's.
    led = ledger(
        ("T1", "acct:V", "acct:X", "1000.00", at(0)),
        ("T2", "acct:I", "acct:X", "500.00", at(1)),
        ("T3", "acct:X", "acct:Y", "1200.00", at(2)),
    )
    result = run(led, Rule.FIFO, txs=("T1",))
    assert held(result) == {"acct:X": Decimal("0.00"), "acct:Y": Decimal("1000.00")}
    # Tracing I's money instead: it is the last 200 of the payment and 300 stay in X.
    assert held(run(led, Rule.FIFO, txs=("T2",))) == {
        "acct:X": Decimal("300.00"),
        "acct:Y": Decimal("200.00"),
    }


def test_libr_re_hallett_own_money_spent_first() -> None:
    # Trustee X holds 500 of their own and mixes in 1000 of trust money; spending 700 uses the
    # own 500 first, so only 200 of the trust money leaves.
    led = ledger(
        ("T0", "acct:own", "acct:X", "500.00", at(0)),
        ("T1", "acct:trust", "acct:X", "1000.00", at(1)),
        ("T2", "acct:X", "acct:shop", "700.00", at(2)),
    )
    result = run(led, Rule.LIBR, txs=("T1",))
    assert held(result) == {"acct:X": Decimal("800.00"), "acct:shop": Decimal("200.00")}


def test_libr_roscoe_v_winder_later_deposits_do_not_restore() -> None:
    # 455.81 of taint; the balance falls to 25.18; 2000 of clean money later does not restore
    # the claim, which stays at the lowest intermediate balance.
    led = ledger(
        ("T1", "acct:victim", "acct:X", "455.81", at(0)),
        ("T2", "acct:X", "acct:spent", "430.63", at(1)),
        ("T3", "acct:clean", "acct:X", "2000.00", at(2)),
    )
    result = run(led, Rule.LIBR, txs=("T1",), max_hops=1)
    assert held(result)["acct:X"] == Decimal("25.18")
    assert result.summary["currencies"]["EUR"]["seeded"] == "455.81"


def test_libr_balance_at_zero_ends_the_taint() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:Y", "100.00", at(1)),
        ("T3", "acct:clean", "acct:X", "100.00", at(2)),
        ("T4", "acct:X", "acct:Z", "100.00", at(3)),
    )
    result = run(led, Rule.LIBR, txs=("T1",))
    assert held(result) == {
        "acct:X": Decimal("0.00"),
        "acct:Y": Decimal("100.00"),
        "acct:Z": Decimal("0.00"),  # reachable, but the clean deposit restored nothing
    }


def test_libr_overdrawn_account_ends_taint_and_is_flagged() -> None:
    # Opening balance 0 is known, so the 150 withdrawal overdraws X: all 100 of taint leaves
    # and the later tainted 80 first repays the bank's 50.
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:Y", "150.00", at(1)),
        ("T3", "acct:victim", "acct:X", "80.00", at(2)),
        opening={"acct:X": "0"},
    )
    result = run(led, Rule.LIBR, txs=("T1", "T3"), max_hops=1)
    assert held(result)["acct:X"] == Decimal("30.00")
    assert held(result)["acct:Y"] == Decimal("100.00")
    exits = result.exits.select("external_id", "traced", "reason").rows()
    assert exits == [("T3", Decimal("50.00"), "overdraft_repaid")]
    assert ("acct:X", "overdrawn") in result.flags.select("account", "flag").rows()


def test_haircut_pro_rata() -> None:
    # 300 clean + 100 taint; a 200 withdrawal carries 200 * 100 / 400 = 50.
    led = ledger(
        ("T0", "acct:clean", "acct:X", "300.00", at(0)),
        ("T1", "acct:victim", "acct:X", "100.00", at(1)),
        ("T2", "acct:X", "acct:Y", "200.00", at(2)),
    )
    assert held(run(led, Rule.HAIRCUT, txs=("T1",))) == {
        "acct:X": Decimal("50.00"),
        "acct:Y": Decimal("50.00"),
    }


def test_haircut_conserves_to_the_cent_with_largest_remainder() -> None:
    # Thirds do not divide cents: 1.00 of taint in 3.00, withdrawn in three 1.00 payments.
    # Each carries 0.33 or 0.34 and the cents add up to exactly 1.00.
    led = ledger(
        ("T0", "acct:clean", "acct:X", "2.00", at(0)),
        ("T1", "acct:victim", "acct:X", "1.00", at(1)),
        ("T2", "acct:X", "acct:A", "1.00", at(2)),
        ("T3", "acct:X", "acct:B", "1.00", at(3)),
        ("T4", "acct:X", "acct:C", "0.99", at(4)),
    )
    result = run(led, Rule.HAIRCUT, txs=("T1",))
    values = held(result)
    assert values["acct:A"] == Decimal("0.33")  # 1.00 * 1.00 / 3.00 = 0.333.. -> 0.33
    assert values["acct:B"] == Decimal("0.34")  # 1.00 * 0.67 / 2.00 = 0.335 -> tie, 0.34
    assert sum(values.values()) == Decimal("1.00")
    assert result.summary["conserved"] is True


def test_poison_taints_whole_withdrawals_and_says_it_is_exposure() -> None:
    led = ledger(
        ("T0", "acct:clean", "acct:X", "999.00", at(0)),
        ("T1", "acct:victim", "acct:X", "1.00", at(1)),
        ("T2", "acct:X", "acct:Y", "500.00", at(2)),
    )
    result = run(led, Rule.POISON, txs=("T1",))
    assert held(result) == {"acct:X": Decimal("500.00"), "acct:Y": Decimal("500.00")}
    assert result.summary["measure"] == "exposure"
    assert result.summary["conserved"] is None


def test_lifo_newest_lot_leaves_first() -> None:
    led = ledger(
        ("T0", "acct:clean", "acct:X", "100.00", at(0)),
        ("T1", "acct:victim", "acct:X", "50.00", at(1)),
        ("T2", "acct:X", "acct:Y", "50.00", at(2)),
    )
    assert held(run(led, Rule.LIFO, txs=("T1",)))["acct:Y"] == Decimal("50.00")
    assert held(run(led, Rule.FIFO, txs=("T1",)))["acct:Y"] == Decimal("0.00")


def test_fifo_keeps_the_order_of_a_mixed_deposit() -> None:
    # X pays Y 150 made of 100 clean then 50 taint; Y's first 100 out is therefore clean.
    led = ledger(
        ("T0", "acct:clean", "acct:X", "100.00", at(0)),
        ("T1", "acct:victim", "acct:X", "50.00", at(1)),
        ("T2", "acct:X", "acct:Y", "150.00", at(2)),
        ("T3", "acct:Y", "acct:Z", "100.00", at(3)),
    )
    result = run(led, Rule.FIFO, txs=("T1",))
    assert held(result) == {
        "acct:X": Decimal("0.00"),
        "acct:Y": Decimal("50.00"),
        "acct:Z": Decimal("0.00"),
    }


def test_same_day_policy_changes_the_libr_answer() -> None:
    # Day 1: X holds 100 of taint. Day 2: 09:00 X pays out 100, 15:00 100 clean comes in.
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:Y", "100.00", at(1, 9)),
        ("T3", "acct:clean", "acct:X", "100.00", at(1, 15)),
    )
    in_order = run(led, Rule.LIBR, txs=("T1",), same_day_policy="ledger")
    deposits_first = run(led, Rule.LIBR, txs=("T1",), same_day_policy="best_case")
    assert held(in_order)["acct:X"] == Decimal("0.00")
    assert held(deposits_first)["acct:X"] == Decimal("100.00")
    assert deposits_first.provenance.same_day_policy == "best_case"


def test_worst_case_puts_withdrawals_first_and_infers_the_opening() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:clean", "acct:X", "100.00", at(1, 9)),
        ("T3", "acct:X", "acct:Y", "150.00", at(1, 15)),
    )
    in_order = run(led, Rule.LIBR, txs=("T1",))
    worst = run(led, Rule.LIBR, txs=("T1",), same_day_policy="worst_case")
    assert held(in_order)["acct:Y"] == Decimal("50.00")
    assert held(worst)["acct:Y"] == Decimal("100.00")
    assert column(worst.accounts, "account", "opening_balance")["acct:X"] == Decimal("50.00")


def test_multi_hop_chain_and_hop_limit_exit() -> None:
    led = ledger(
        ("T1", "acct:A", "acct:B", "100.00", at(0)),
        ("T2", "acct:B", "acct:C", "90.00", at(1)),
        ("T3", "acct:C", "acct:D", "80.00", at(2)),
        ("T4", "acct:D", "acct:E", "70.00", at(3)),
    )
    full = run(led, Rule.LIBR, txs=("T1",), max_hops=3)
    assert held(full) == {
        "acct:B": Decimal("10.00"),
        "acct:C": Decimal("10.00"),
        "acct:D": Decimal("10.00"),
        "acct:E": Decimal("70.00"),
    }
    short = run(led, Rule.LIBR, txs=("T1",), max_hops=2)
    assert short.exits.select("external_id", "traced", "reason").rows() == [
        ("T4", Decimal("70.00"), "hop_limit")
    ]
    assert short.flows.select("external_id", "hop").rows() == [("T1", 0), ("T2", 1), ("T3", 2)]


def test_inferred_opening_balance_is_flagged() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:Y", "150.00", at(1)),
    )
    result = run(led, Rule.LIBR, txs=("T1",))
    assert column(result.accounts, "account", "opening_balance")["acct:X"] == Decimal("50.00")
    assert held(result)["acct:Y"] == Decimal("100.00")
    flags = result.flags.filter(pl.col("flag") == "opening_balance_inferred")
    assert flags["account"].to_list() == ["acct:X"]
    assert "50.00" in flags["detail"][0]


def test_given_opening_balance_replaces_the_inference() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:Y", "150.00", at(1)),
        opening={"acct:X": "400.00"},
    )
    result = run(led, Rule.LIBR, txs=("T1",))
    assert column(result.accounts, "account", "opening_balance")["acct:X"] == Decimal("400.00")
    assert held(result) == {"acct:X": Decimal("100.00"), "acct:Y": Decimal("0.00")}
    assert result.flags.height == 0


def test_currencies_are_kept_apart() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0), "EUR"),
        ("T2", "acct:X", "acct:Y", "100.00", at(1), "USD"),
        ("T3", "acct:X", "acct:Z", "40.00", at(2), "EUR"),
    )
    result = run(led, Rule.FIFO, txs=("T1",))
    rows = result.accounts.select("account", "currency", "held").rows()
    assert rows == [("acct:X", "EUR", Decimal("60.00")), ("acct:Z", "EUR", Decimal("40.00"))]


def test_account_seed_places_an_amount_at_a_time() -> None:
    led = ledger(
        ("T1", "acct:X", "acct:Y", "30.00", at(0)),
        ("T2", "acct:X", "acct:Z", "30.00", at(2)),
        opening={"acct:X": "100.00"},
    )
    seed = AccountSeed(account="acct:X", currency="EUR", amount=Decimal("50.00"), at=at(1))
    result = run(led, Rule.LIBR, seeds=(seed,))
    # Placed after T1: own 70 + 50 taint; T2's 30 comes out of own money.
    assert held(result) == {"acct:X": Decimal("50.00"), "acct:Z": Decimal("0.00")}


def test_stopped_and_high_degree_accounts_are_exits() -> None:
    led = ledger(
        ("T1", "acct:victim", "acct:X", "100.00", at(0)),
        ("T2", "acct:X", "acct:exchange", "60.00", at(1)),
        ("T3", "acct:X", "acct:hub", "40.00", at(1, 13)),
        ("T4", "acct:a", "acct:hub", "1.00", at(0)),
        ("T5", "acct:b", "acct:hub", "1.00", at(0)),
        ("T6", "acct:exchange", "acct:Q", "60.00", at(3)),
    )
    result = run(
        led, Rule.FIFO, txs=("T1",), stop_at=frozenset({"acct:exchange"}), max_counterparties=2
    )
    expected = pl.DataFrame(
        {
            "external_id": ["T2", "T3"],
            "traced": [Decimal("60.00"), Decimal("40.00")],
            "reason": ["stopped_account", "high_degree_account"],
        },
        schema={"external_id": pl.String, "traced": pl.Decimal(38, 2), "reason": pl.String},
    )
    assert_frame_equal(result.exits.select("external_id", "traced", "reason"), expected)
    roles = column(result.accounts, "account", "role")
    assert roles == {"acct:X": "seed", "acct:exchange": "stopped", "acct:hub": "high_degree"}
    assert column(result.accounts, "account", "received")["acct:exchange"] == Decimal("60.00")


def test_haircut_is_exact_for_amounts_whose_product_overflows_64_bits() -> None:
    # 9e15 and 3e15 minor units: w * T is about 1e31, far beyond int64.
    led = ledger(
        ("T0", "acct:clean", "acct:X", "60000000000000.00", at(0)),
        ("T1", "acct:victim", "acct:X", "30000000000000.01", at(1)),
        ("T2", "acct:X", "acct:Y", "70000000000000.00", at(2)),
    )
    result = run(led, Rule.HAIRCUT, txs=("T1",))
    balance, taint, withdrawn = 9_000_000_000_000_001, 3_000_000_000_000_001, 7_000_000_000_000_000
    q, r = divmod(withdrawn * taint, balance)
    carried = q + 1 if r and 2 * r >= balance else q
    assert held(result)["acct:Y"] == Decimal(carried).scaleb(-2)
    assert result.summary["conserved"] is True
