"""The ledger: checks at the edge, exact minor units, appends, fingerprints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tracing.factories import at, frame, ledger
from tracing import InvalidLedger, Ledger, Rule, SchemaMismatch, TraceParams, trace

ROWS = (
    ("T1", "acct:A", "acct:B", "10.00", at(0), "EUR", 1),
    ("T2", "acct:B", "acct:C", "4.00", at(1), "EUR", 2),
    ("T3", "acct:C", "acct:A", "1.50", at(2), "EUR", 3),
)


def test_ledger_counts_and_indexes() -> None:
    led = ledger(*ROWS)
    assert (led.n_transactions, led.n_accounts, led.n_nodes) == (3, 3, 3)
    assert led.currencies == ("EUR",)
    rows = led.rows()
    assert rows["amount_minor"].to_list() == [1000, 400, 150]
    assert rows["from_account"].to_list() == ["acct:A", "acct:B", "acct:C"]
    assert led.positions_of(["T3", "nope"]).tolist() == [2, -1]
    assert led.account_ids(["acct:C", "acct:Z"]).tolist()[1] == -1


def test_rows_are_sorted_by_time_sequence_and_id() -> None:
    led = Ledger.from_frame(
        frame(
            ("T9", "acct:A", "acct:B", "1.00", at(0), "EUR", 2),
            ("T8", "acct:A", "acct:B", "1.00", at(0), "EUR", 2),
            ("T7", "acct:A", "acct:B", "1.00", at(0), "EUR", 1),
        ).lazy()
    )
    assert led.external_ids.to_list() == ["T7", "T8", "T9"]


def test_currency_decimals_convert_exactly() -> None:
    led = Ledger.from_frame(
        frame(
            ("T1", "acct:A", "acct:B", "1500", at(0), "JPY"),
            ("T2", "acct:A", "acct:B", "0.5", at(0), "BTC"),
        ),
        currency_decimals={"JPY": 0, "BTC": 8},
    )
    assert sorted(led.rows()["amount_minor"].to_list()) == [1500, 50_000_000]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda f: f.drop("currency"), SchemaMismatch, "lacks columns"),
        (
            lambda f: f.with_columns(pl.col("amount").cast(pl.Float64)),
            SchemaMismatch,
            "never a float",
        ),
        (
            lambda f: f.with_columns(pl.col("value_time").dt.replace_time_zone(None)),
            SchemaMismatch,
            "timezone-aware",
        ),
        (
            lambda f: f.with_columns(pl.col("value_time").cast(pl.String)),
            SchemaMismatch,
            "Datetime",
        ),
        (lambda f: f.with_columns(pl.lit(1).alias("external_id")), SchemaMismatch, "String"),
        (
            lambda f: f.with_columns(
                pl.lit(Decimal("0.001")).cast(pl.Decimal(18, 3)).alias("amount")
            ),
            InvalidLedger,
            "finer",
        ),
        (
            lambda f: f.with_columns(
                pl.lit(Decimal("-1.00")).cast(pl.Decimal(18, 2)).alias("amount")
            ),
            InvalidLedger,
            "positive",
        ),
        (
            lambda f: f.with_columns(pl.col("from_account").alias("to_account")),
            InvalidLedger,
            "equals",
        ),
        (lambda f: f.with_columns(pl.lit("T1").alias("external_id")), InvalidLedger, "duplicate"),
        (
            lambda f: f.with_columns(pl.lit(None, pl.String).alias("to_account")),
            InvalidLedger,
            "missing values",
        ),
        (
            lambda f: f.with_columns(pl.lit(None, pl.Decimal(18, 2)).alias("amount")),
            InvalidLedger,
            "missing amount",
        ),
        (
            lambda f: f.with_columns(
                pl.lit(Decimal("1e17")).cast(pl.Decimal(38, 2)).alias("amount")
            ),
            InvalidLedger,
            "too large",
        ),
    ],
)
def test_bad_frames_are_rejected(change, error, message) -> None:
    with pytest.raises(error, match=message):
        Ledger.from_frame(change(frame(*ROWS)))


def test_bad_currency_decimals_are_rejected() -> None:
    with pytest.raises(SchemaMismatch, match="decimals"):
        Ledger.from_frame(frame(*ROWS), currency_decimals={"EUR": 40})


def test_dates_without_time_are_midnight_utc_and_sequence_is_optional() -> None:
    dated = frame(*ROWS).drop("sequence").with_columns(pl.col("value_time").dt.date())
    assert isinstance(dated["value_time"][0], date)
    led = Ledger.from_frame(dated)
    assert led.time[0] % (86_400 * 1_000_000) == 0
    assert led.seq.tolist() == [0, 0, 0]


def test_append_in_time_order_equals_a_full_build() -> None:
    whole = ledger(*ROWS)
    grown = ledger(*ROWS[:1]).append(frame(*ROWS[1:]))
    assert grown.fingerprint == whole.fingerprint
    assert grown.degree.tolist() == whole.degree.tolist() == [2, 2, 2]
    params = TraceParams(seed_transactions=("T1",), rule=Rule.FIFO)
    assert trace(grown, params).to_json() == trace(whole, params).to_json()
    assert grown.append(frame(*ROWS[:0])) is grown


def test_a_fingerprint_is_what_it_was_when_first_stored() -> None:
    # Stored traces name the fingerprint of the ledger they ran on: a defence expert who builds
    # the ledger again from the same rows must get the same value, however the index was grown.
    pinned = "6e13cf358fa4b282b73ea50b2ba983bb5a74c75db7558e19670713a1aa7e15c8"
    assert ledger(*ROWS).fingerprint == pinned
    assert ledger(ROWS[0], ROWS[2]).append(frame(ROWS[1])).fingerprint == pinned
    assert ledger(ROWS[0]).append(frame(*ROWS[1:])).fingerprint == pinned


def test_append_out_of_order_places_the_rows_in_order() -> None:
    whole = ledger(*ROWS)
    late = ledger(ROWS[0], ROWS[2]).append(frame(ROWS[1]))
    assert late.fingerprint == whole.fingerprint
    assert late.external_ids.to_list() == ["T1", "T2", "T3"]


def test_append_rejects_known_ids_and_changed_decimals() -> None:
    led = ledger(*ROWS)
    with pytest.raises(InvalidLedger, match="duplicate"):
        led.append(frame(ROWS[0]))
    with pytest.raises(SchemaMismatch, match="differ"):
        led.append(frame(("T4", "acct:A", "acct:B", "1.00", at(5))), currency_decimals={"EUR": 3})


def test_append_names_the_batchs_first_known_id_in_ledger_order() -> None:
    led = ledger(*ROWS)
    batch = frame(("T9", "acct:A", "acct:B", "1.00", at(9)), ROWS[2], ROWS[1])
    with pytest.raises(InvalidLedger, match=r"duplicate external_id T2$"):
        led.append(batch)


def test_fingerprint_depends_on_content_and_opening_balances() -> None:
    base = ledger(*ROWS).fingerprint
    assert ledger(*ROWS).fingerprint == base
    assert ledger(*ROWS[:2]).fingerprint != base
    assert ledger(*ROWS, opening={"acct:A": "5.00"}).fingerprint != base


@pytest.mark.parametrize(
    ("balances", "message"),
    [
        (pl.DataFrame({"account": ["acct:A"], "amount": [Decimal("1.00")]}), "lack columns"),
        (
            pl.DataFrame(
                {"account": ["acct:A"], "currency": ["EUR"], "amount": [Decimal("-1.00")]}
            ),
            "non-negative",
        ),
        (
            pl.DataFrame(
                {
                    "account": ["acct:A"] * 2,
                    "currency": ["EUR"] * 2,
                    "amount": [Decimal("1.00")] * 2,
                }
            ),
            "two opening",
        ),
    ],
)
def test_bad_opening_balances_are_rejected(balances, message) -> None:
    with pytest.raises((SchemaMismatch, InvalidLedger), match=message):
        Ledger.from_frame(frame(*ROWS), opening_balances=balances)


def test_opening_balance_of_an_unknown_account_waits_for_it() -> None:
    led = ledger(*ROWS, opening={"acct:Z": "5.00"})
    given, _ = led.opening()
    assert not given.any()
    grown = led.append(frame(("T4", "acct:Z", "acct:A", "1.00", at(9))))
    given, amount = grown.opening()
    assert amount[given].tolist() == [500]


def test_empty_ledger() -> None:
    led = Ledger.from_frame(frame())
    assert led.n_transactions == 0
    assert isinstance(led.fingerprint, str)


def test_append_a_new_currency_equals_a_full_build() -> None:
    later = (
        ("T4", "acct:A", "acct:C", "7.00", at(3), "USD", 4),
        ("T5", "acct:C", "acct:D", "2.00", at(4), "USD", 5),
        ("T6", "acct:D", "acct:A", "1.00", at(5), "EUR", 6),
    )
    whole = ledger(*ROWS, *later)
    grown = ledger(*ROWS).append(frame(*later))
    assert grown.fingerprint == whole.fingerprint
    assert grown.n_nodes == whole.n_nodes == 7
    assert (
        grown.nodes_of(["acct:C", "acct:A"], ["USD", "EUR"]).tolist()
        == whole.nodes_of(["acct:C", "acct:A"], ["USD", "EUR"]).tolist()
    )
    params = TraceParams(seed_transactions=("T4",), rule=Rule.LIFO)
    assert trace(grown, params).to_json() == trace(whole, params).to_json()


def test_remembered_lookups_do_not_outlive_their_ledger() -> None:
    # Seed keys and transaction ids are remembered per ledger; a ledger grown by an append
    # must find what arrived, even where its parent answered "unknown" before.
    led = ledger(*ROWS)
    assert led.positions_of(["T4"]).tolist() == [-1]
    assert led.account_ids(["acct:D"]).tolist() == [-1]
    grown = led.append(frame(("T4", "acct:C", "acct:D", "2.00", at(3), "EUR", 4)))
    assert grown.positions_of(["T4", "T1"]).tolist() == [3, 0]
    assert grown.account_ids(["acct:D"]).tolist() == [3]
    assert led.positions_of(["T4"]).tolist() == [-1]  # the parent is unchanged
    many = [f"T{i}" for i in range(100)]  # long lists are looked up, not remembered
    assert grown.positions_of(many)[:5].tolist() == [-1, 0, 1, 2, 3]


_ROW = st.tuples(
    st.integers(0, 9),  # from account
    st.integers(0, 9),  # to account
    st.integers(1, 10_000),  # cents
    st.sampled_from(["EUR", "EUR", "USD", "JPY"]),
    st.integers(0, 5),  # day
    st.sampled_from([0, 12]),  # hour: ties of value time are common (dates without a time)
    st.integers(0, 2),  # sequence: ties of (time, sequence) leave the order to the ids
)


def _rows(drawn: list[tuple], tag: str) -> list[tuple]:
    return [
        (f"{tag}{i:02d}", f"acct:{a}", f"acct:{(b + 1 + a) % 11}", f"{c / 100:.2f}" if cur != "JPY"
         else str(c), at(day, hour), cur, seq)
        for i, (a, b, c, cur, day, hour, seq) in enumerate(drawn)
    ]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    old=st.lists(_ROW, min_size=1, max_size=30),
    batches=st.lists(st.lists(_ROW, min_size=1, max_size=6), min_size=1, max_size=3),
    opened=st.booleans(),
)
def test_late_rows_merged_into_place_equal_a_full_build(old, batches, opened) -> None:
    # Late rows may bring accounts, nodes and currencies that now appear first: the merge
    # renumbers them, and every array, the fingerprint and a trace must equal a full build.
    decimals = {"JPY": 0}
    opening = {"acct:3": "5.00", "acct:10": "1.00"} if opened else None
    rows = _rows(old, "B")
    grown = ledger(*rows, opening=opening, currency_decimals=decimals)
    for n, batch in enumerate(batches):
        late = _rows(batch, f"L{n}-")
        rows += late
        grown = grown.append(frame(*late))
    whole = ledger(*rows, opening=opening, currency_decimals=decimals)
    assert grown.fingerprint == whole.fingerprint
    assert grown.external_ids.to_list() == whole.external_ids.to_list()
    assert grown.account_keys.to_list() == whole.account_keys.to_list()
    assert grown.currencies == whole.currencies
    for name in ("src", "dst", "amount", "time", "seq", "tx_currency", "node_account", "degree"):
        assert getattr(grown, name).tolist() == getattr(whole, name).tolist(), name
    for name in ("out_ptr", "out_idx", "in_ptr", "in_idx"):
        assert getattr(grown.adj, name).tolist() == getattr(whole.adj, name).tolist(), name
    keys = whole.account_keys.to_list()
    assert grown.account_ids(keys).tolist() == list(range(len(keys)))
    assert grown.opening()[1].tolist() == whole.opening()[1].tolist()
    params = TraceParams(seed_transactions=(rows[0][0],), rule=Rule.FIFO)
    assert trace(grown, params).to_json() == trace(whole, params).to_json()


@pytest.mark.parametrize("bound", ["MERGE_ROWS_MAX", "TIED_ROWS_MAX"])
def test_a_late_batch_beyond_what_a_merge_takes_is_placed_by_a_rebuild(monkeypatch, bound) -> None:
    monkeypatch.setattr(f"tracing.merge.{bound}", 0)
    tied = ("T0", "acct:C", "acct:D", "2.00", at(1), "EUR", 2)  # T2's time and sequence
    whole = ledger(*ROWS, tied)
    late = ledger(ROWS[2]).append(frame(ROWS[0], ROWS[1], tied))
    assert late.fingerprint == whole.fingerprint
    assert late.external_ids.to_list() == ["T1", "T0", "T2", "T3"]
    assert late.degree.tolist() == whole.degree.tolist()
