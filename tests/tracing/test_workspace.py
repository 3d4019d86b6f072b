"""The search's reused per-thread workspace: results never depend on earlier traces."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.tracing.factories import at, frame, ledger
from tracing import (
    AccountSeed,
    Ledger,
    Progress,
    TraceCancelled,
    TraceParams,
    TraceTooLarge,
    attribution,
    graph,
    trace,
)
from tracing.graph import INF, Workspace


def _rows(n: int = 400, accounts: int = 40, seed: int = 5) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        src = "acct:HUB" if i % 9 == 0 else f"acct:{rng.randrange(accounts)}"
        dst = "acct:HUB" if i % 7 == 0 else f"acct:{rng.randrange(accounts)}"
        if src == dst:
            dst = "acct:X"
        amount = f"{rng.randint(1, 50_000) / 100:.2f}"
        rows.append((f"T{i:04d}", src, dst, amount, at(i // 20, i % 20)))
    return rows


ROWS = _rows()


def _params() -> list[TraceParams]:
    rng = random.Random(11)
    out = []
    for i in range(40):
        seeds = tuple(
            AccountSeed(account=f"acct:{a}", currency="EUR", amount=Decimal("100.00"))
            for a in rng.sample(range(40), rng.randint(1, 4))
        )
        forward = i % 3 != 0
        out.append(
            TraceParams(
                seeds=seeds,
                seed_transactions=(f"T{rng.randrange(400):04d}",) if i % 4 == 0 else (),
                rule=rng.choice(["reach", "libr", "fifo", "poison"]) if forward else "reach",
                direction="forward" if forward else "backward",
                max_hops=rng.randint(1, 6),
                max_counterparties=rng.choice([None, 5, 12]),
                stop_at=frozenset({f"acct:{rng.randrange(40)}"}) if i % 5 == 0 else frozenset(),
                min_amount=Decimal("50.00") if i % 6 == 0 else None,
            )
        )
    return out


PARAMS = _params()


def _digests(led: Ledger, params: list[TraceParams]) -> list[str]:
    return [trace(led, p).digest() for p in params]


@pytest.fixture(scope="module")
def fresh() -> list[str]:
    """Each trace on its own, freshly built ledger."""
    return [trace(ledger(*ROWS), p).digest() for p in PARAMS]


def _workspace(led: Ledger) -> Workspace:
    ws = led.workspaces._local.ws
    assert isinstance(ws, Workspace)
    return ws


def _assert_clean(ws: Workspace) -> None:
    assert (ws.arrival == INF).all()
    assert (ws.arrival_tx == -1).all()
    assert (ws.hops == -1).all()
    assert (ws.mark == -1).all()
    assert ws.n_touched == 0
    assert not ws.busy


def test_reused_workspace_matches_fresh_ledgers_even_after_failures(fresh: list[str]) -> None:
    led = ledger(*ROWS)
    got = []
    for n, p in enumerate(PARAMS):
        got.append(trace(led, p).digest())
        _assert_clean(_workspace(led))
        if n % 3 == 0:
            with pytest.raises(TraceTooLarge):
                trace(led, TraceParams(seeds=p.seeds or PARAMS[1].seeds, max_accounts=1))
            _assert_clean(_workspace(led))
        if n % 5 == 0:
            calls = iter([False, False, True])
            with pytest.raises(TraceCancelled):
                trace(led, PARAMS[1], cancelled=lambda c=calls: next(c, True))
            _assert_clean(_workspace(led))
    assert got == fresh


def test_threads_use_their_own_workspaces(fresh: list[str]) -> None:
    led = ledger(*ROWS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        rounds = [list(pool.map(lambda p: trace(led, p).digest(), PARAMS)) for _ in range(3)]
    assert all(r == fresh for r in rounds)


def test_a_trace_nested_in_a_progress_callback_gets_its_own_workspace(fresh: list[str]) -> None:
    led = ledger(*ROWS)
    inner: list[str] = []

    def report(progress: Progress) -> None:
        if progress.hops_done == 1 and not inner:
            inner.append(trace(led, PARAMS[2]).digest())

    outer = trace(led, PARAMS[4], progress=report).digest()
    assert (outer, inner) == (fresh[4], [fresh[2]])
    _assert_clean(_workspace(led))


def test_a_trace_nested_in_a_replay_callback_does_not_touch_the_replayed_events(
    fresh: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The events being replayed live in the workspace's buffers: a trace started from a
    # progress callback between two replay chunks must get buffers of its own.
    monkeypatch.setattr(attribution, "CHUNK", 7)
    led = ledger(*ROWS)
    replayed = [i for i, p in enumerate(PARAMS) if p.rule != "reach"]
    outer, other = replayed[0], replayed[1]
    inner: list[str] = []

    def report(progress: Progress) -> None:
        if progress.events_replayed and not inner:
            inner.append(trace(led, PARAMS[other]).digest())

    result = trace(led, PARAMS[outer], progress=report)
    assert result.summary["events_replayed"] > 7  # the callback ran between chunks
    assert (result.digest(), inner) == (fresh[outer], [fresh[other]])
    _assert_clean(_workspace(led))


def test_an_appended_ledger_has_its_own_workspaces() -> None:
    rows = frame(*ROWS)
    led = Ledger.from_frame(rows[:200])
    trace(led, PARAMS[1])
    later = led.append(rows[200:])
    assert later.workspaces is not led.workspaces
    assert _digests(later, PARAMS[:10]) == _digests(Ledger.from_frame(rows), PARAMS[:10])


@pytest.mark.parametrize(("dense", "hand_off"), [(0, 0), (10**9, 0), (0, 10**9), (10**9, 10**9)])
def test_listing_reached_nodes_and_handing_off_the_trail_agree(
    fresh: list[str], monkeypatch: pytest.MonkeyPatch, dense: int, hand_off: int
) -> None:
    monkeypatch.setattr(graph, "DENSE_FACTOR", dense)  # 0: always sort; large: always scan
    monkeypatch.setattr(graph, "HAND_OFF", hand_off)  # 0: always hand the buffers off
    led = ledger(*ROWS)
    results = [trace(led, p) for p in PARAMS]  # earlier results must survive later traces
    assert [r.digest() for r in results] == fresh
    _assert_clean(_workspace(led))
