"""Reachability, parameters, limits, progress and cancellation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from tests.tracing.factories import at, column, ledger
from tracing import (
    AccountSeed,
    InvalidTraceParams,
    Progress,
    TraceCancelled,
    TraceParams,
    TraceTooLarge,
    UnknownSeed,
    trace,
)

CHAIN = (
    ("T1", "acct:A", "acct:B", "100.00", at(0)),
    ("T2", "acct:B", "acct:C", "50.00", at(1)),
    ("T3", "acct:C", "acct:D", "5.00", at(2)),
    ("T4", "acct:D", "acct:B", "5.00", at(3)),
    ("T0", "acct:C", "acct:E", "1.00", at(0, 6)),  # before the money reached C
)


def test_reach_is_time_respecting() -> None:
    result = trace(ledger(*CHAIN), TraceParams(seed_transactions=("T1",)))
    assert column(result.accounts, "account", "hops") == {
        "acct:B": 0,
        "acct:C": 1,
        "acct:D": 2,
    }
    assert result.flows["external_id"].to_list() == ["T1", "T2", "T3", "T4"]
    assert result.accounts.filter(result.accounts["account"] == "acct:C")["reached_at"][0] == at(1)
    assert result.summary["max_hop"] == 3


def test_a_seed_account_is_dated_by_the_transfer_that_tainted_it_before_its_seed_time() -> None:
    # B is seeded at noon on day 1, and A's seeded funds reached it on day 0: B holds taint
    # from day 0. The transfer is the last one before B's seed time, so it reaches no further
    # than the seed does; it still dates B's arrival.
    seeds = (
        AccountSeed(account="acct:A", currency="EUR", amount=Decimal("1.00")),
        AccountSeed(account="acct:B", currency="EUR", amount=Decimal("1.00"), at=at(1)),
    )
    result = trace(
        ledger(("T1", "acct:A", "acct:B", "100.00", at(0))),
        TraceParams(seeds=seeds, rule="poison", max_hops=1),
    )
    assert column(result.accounts, "account", "reached_at")["acct:B"] == at(0)


def test_reach_backward_follows_latest_departure() -> None:
    seed = AccountSeed(account="acct:D", currency="EUR", at=at(2, 13))
    result = trace(ledger(*CHAIN), TraceParams(seeds=(seed,), direction="backward"))
    assert column(result.accounts, "account", "hops") == {
        "acct:D": 0,
        "acct:C": 1,
        "acct:B": 2,
        "acct:A": 3,
    }
    assert "T4" not in result.flows["external_id"].to_list()


def test_min_amount_and_window_filter_what_is_followed() -> None:
    led = ledger(*CHAIN)
    small = trace(led, TraceParams(seed_transactions=("T1",), min_amount=Decimal("10")))
    assert small.flows["external_id"].to_list() == ["T1", "T2"]
    early = trace(led, TraceParams(seed_transactions=("T1",), window_end=at(1, 18)))
    assert early.flows["external_id"].to_list() == ["T1", "T2"]


def test_max_hops_limits_the_trail() -> None:
    result = trace(ledger(*CHAIN), TraceParams(seed_transactions=("T1",), max_hops=1))
    assert result.flows.select("external_id", "hop").rows() == [("T1", 0), ("T2", 1)]


def test_unknown_seeds_are_named() -> None:
    led = ledger(*CHAIN)
    with pytest.raises(UnknownSeed, match="acct:Q"):
        trace(led, TraceParams(seeds=(AccountSeed(account="acct:Q", currency="EUR"),)))
    with pytest.raises(UnknownSeed, match="acct:A \\(USD\\)"):
        trace(led, TraceParams(seeds=(AccountSeed(account="acct:A", currency="USD"),)))
    with pytest.raises(UnknownSeed, match="T99"):
        trace(led, TraceParams(seed_transactions=("T99",)))


def test_limits_raise_trace_too_large() -> None:
    led = ledger(*CHAIN)
    with pytest.raises(TraceTooLarge, match="accounts"):
        trace(led, TraceParams(seed_transactions=("T1",), max_accounts=1))
    with pytest.raises(TraceTooLarge, match="events"):
        trace(led, TraceParams(seed_transactions=("T1",), rule="libr", max_events=2))


def test_progress_is_reported_and_cancellation_stops() -> None:
    seen: list[Progress] = []
    trace(ledger(*CHAIN), TraceParams(seed_transactions=("T1",), rule="fifo"), progress=seen.append)
    assert [p.hops_done for p in seen[:3]] == [1, 2, 3]
    assert seen[-1].events_replayed > 0
    assert seen[-1].accounts_reached == 3
    with pytest.raises(TraceCancelled):
        trace(ledger(*CHAIN), TraceParams(seed_transactions=("T1",)), cancelled=lambda: True)
    calls = iter([False, False, False, True])
    with pytest.raises(TraceCancelled, match="replaying"):
        trace(
            ledger(*CHAIN),
            TraceParams(seed_transactions=("T1",), rule="libr", max_hops=3),
            cancelled=lambda: next(calls),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one seed"),
        ({"seed_transactions": ("T1",), "max_hops": 0}, "max_hops"),
        (
            {"seed_transactions": ("T1",), "window_start": datetime(2025, 1, 1)},  # noqa: DTZ001
            "timezone-aware",
        ),
        ({"seed_transactions": ("T1",), "window_start": at(2), "window_end": at(1)}, "after"),
        (
            {"seed_transactions": ("T1",), "rule": "libr", "direction": "backward"},
            "cannot trace backward",
        ),
        ({"seeds": (AccountSeed(account="a", currency="EUR"),), "rule": "libr"}, "amount"),
        (
            {"seeds": (AccountSeed(account="a", currency="EUR", at=at(0)),), "window_start": at(1)},
            "outside",
        ),
        (
            {"seeds": (AccountSeed(account="a", currency="EUR", at=at(5)),), "window_end": at(1)},
            "outside",
        ),
        (
            {"seeds": (AccountSeed(account="a", currency="EUR", at=at(5)),), "as_of": at(1)},
            "after as_of",
        ),
        ({"seed_transactions": ("T1",), "min_amount": Decimal(-1)}, "min_amount"),
        ({"seed_transactions": ("T1",), "max_counterparties": 0}, "max_counterparties"),
    ],
)
def test_invalid_params_are_rejected(kwargs, message) -> None:
    with pytest.raises(InvalidTraceParams, match=message):
        TraceParams(**kwargs)


def test_seed_amount_must_be_positive() -> None:
    with pytest.raises(InvalidTraceParams, match="positive"):
        AccountSeed(account="a", currency="EUR", amount=Decimal(0))
    with pytest.raises(InvalidTraceParams, match="timezone"):
        AccountSeed(account="a", currency="EUR", at=datetime(2025, 1, 1))  # noqa: DTZ001


def test_params_are_serialised_canonically() -> None:
    params = TraceParams(
        seeds=[AccountSeed(account="a", currency="EUR", amount=Decimal("1.50"), at=at(0))],
        stop_at={"z", "y"},
        min_amount=Decimal("2"),
        window_start=at(0),
    )
    data = params.to_dict()
    assert data["stop_at"] == ["y", "z"]
    assert data["seeds"][0]["amount"] == "1.50"
    assert data["window_start"] == at(0).isoformat()
