"""Hypothesis: the engine agrees with the plain reference on random small ledgers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tracing import reference as ref
from tests.tracing.factories import SCHEMA
from tracing import AccountSeed, Ledger, TraceParams, attribution, trace

T0 = datetime(2025, 3, 1, tzinfo=UTC)
INF = 2**62
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _us(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000


@st.composite
def ledgers(draw, max_tx=12):
    n_acc = draw(st.integers(2, 5))
    accounts = [f"acct:{i}" for i in range(n_acc)]
    rows = []
    for i in range(draw(st.integers(1, max_tx))):
        src = draw(st.sampled_from(accounts))
        dst = draw(st.sampled_from([a for a in accounts if a != src]))
        when = T0 + timedelta(days=draw(st.integers(0, 3)), hours=draw(st.sampled_from([0, 9, 18])))
        currency = draw(st.sampled_from(["EUR", "EUR", "EUR", "USD"]))
        rows.append(
            (
                f"T{i:02d}",
                src,
                dst,
                draw(st.integers(1, 500)),
                when,
                currency,
                draw(st.integers(0, 2)),
            )
        )
    return rows


def _build(rows, opening=None):
    frame = pl.DataFrame(
        [(i, s, d, Decimal(a).scaleb(-2), w, c, q) for i, s, d, a, w, c, q in rows],
        schema=[
            "external_id",
            "from_account",
            "to_account",
            "amount",
            "value_time",
            "currency",
            "sequence",
        ],
        orient="row",
    ).cast(SCHEMA)
    balances = None
    if opening:
        balances = pl.DataFrame(
            [(a, c, Decimal(v).scaleb(-2)) for (a, c), v in opening.items()],
            schema={"account": pl.String, "currency": pl.String, "amount": pl.Decimal(18, 2)},
            orient="row",
        )
    txs = [ref.Tx(i, (s, c), (d, c), a, _us(w), q) for i, s, d, a, w, c, q in rows]
    return Ledger.from_frame(frame, opening_balances=balances), txs


@st.composite
def scenarios(draw, attribution=None):
    rows = draw(ledgers())
    nodes = sorted({(r[1], r[5]) for r in rows} | {(r[2], r[5]) for r in rows})
    rule = draw(
        st.sampled_from(["reach", "poison", "haircut", "fifo", "lifo", "libr"])
        if attribution is None
        else st.sampled_from(attribution)
    )
    forward = rule != "reach" or draw(st.booleans())
    seeds = tuple(
        AccountSeed(
            account=a,
            currency=c,
            amount=Decimal(draw(st.integers(1, 900))).scaleb(-2),
            at=draw(
                st.none()
                | st.builds(
                    lambda d, h: T0 + timedelta(days=d, hours=h),
                    st.integers(0, 3),
                    st.sampled_from([0, 9, 18]),
                )
            ),
        )
        for a, c in draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True))
    )
    seed_txs = tuple(draw(st.lists(st.sampled_from([r[0] for r in rows]), max_size=1)))
    if not seeds and not seed_txs:
        seed_txs = (rows[0][0],)
    accounts = sorted({n[0] for n in nodes})
    window = draw(st.none() | st.tuples(st.integers(0, 1), st.integers(2, 4)))
    if window and any(s.at and not (window[0] <= (s.at - T0).days <= window[1] - 1) for s in seeds):
        window = None
    opening = draw(
        st.none() | st.dictionaries(st.sampled_from(nodes), st.integers(0, 300), max_size=1)
    )
    as_of = draw(st.none() | st.integers(1, 4).map(lambda d: T0 + timedelta(days=d)))
    if as_of is not None and any(s.at and s.at > as_of for s in seeds):
        as_of = None
    params = TraceParams(
        seeds=seeds,
        seed_transactions=seed_txs,
        rule=rule,
        direction="forward" if forward else "backward",
        same_day_policy=draw(st.sampled_from(["ledger", "worst_case", "best_case"])),
        max_hops=draw(st.integers(1, 4)),
        stop_at=frozenset(draw(st.lists(st.sampled_from(accounts), max_size=1))),
        max_counterparties=draw(st.none() | st.integers(1, 3)),
        min_amount=draw(st.none() | st.integers(0, 200).map(lambda v: Decimal(v).scaleb(-2))),
        window_start=None if window is None else T0 + timedelta(days=window[0]),
        window_end=None
        if window is None
        else T0 + timedelta(days=window[1]) - timedelta(microseconds=1),
        as_of=as_of,
    )
    return rows, params, opening


def _reference(txs, params: TraceParams, opening, labels=None, **claims):
    """The reference's trace; ``labels`` (per seed) and ``claims`` (``make``, ``seed_label``)
    keep claimants (see ref.Claims)."""
    forward = params.direction == "forward"
    policy = str(params.same_day_policy)
    wd, dep, _ = ref.ranks(txs, policy)
    degree: dict = {}
    for t in txs:
        degree.setdefault(t.src, set()).add(t.dst)
        degree.setdefault(t.dst, set()).add(t.src)
    cut = params.max_counterparties
    stops = {n for n in degree if n[0] in params.stop_at}
    busy = {n for n, others in degree.items() if cut is not None and len(others) > cut}
    lo = _us(params.window_start) if params.window_start else -INF
    hi = int(params.window_end.timestamp() * 1_000_000) if params.window_end else INF
    minimum = int(params.min_amount.scaleb(2)) if params.min_amount is not None else 0

    def follow(t):
        return lo <= t.time <= hi and t.amount >= minimum

    default = params.window_start if forward else params.window_end
    seeds, placements = [], []
    for i, s in enumerate(params.seeds):
        when = s.at or default
        thr = ref.seed_rank(
            txs,
            policy,
            None if when is None else _us(when) + when.microsecond,
            forward=forward,
        )
        seeds.append(((s.account, s.currency), thr, None))
        placement = ((s.account, s.currency), thr, int(s.amount.scaleb(2)))
        placements.append(placement if labels is None else (*placement, labels[i]))
    by_id = {t.id: t for t in txs}
    for tx_id in params.seed_transactions:
        t = by_id[tx_id]
        seeds.append((t.dst, dep[t.id], t.id) if forward else (t.src, wd[t.id], t.id))
    hops, arrival, trail = ref.reach(
        txs,
        policy,
        seeds,
        forward=forward,
        max_hops=params.max_hops,
        blocked=stops | busy,
        follow=follow,
    )
    out = ref.Ref(hops, arrival, trail)
    if params.rule == "reach":
        return out, wd, dep
    seed_nodes = {s[0] for s in seeds}
    blocked = (stops | busy) - seed_nodes
    universe = set(hops) - blocked
    sinks = {n: "stopped_account" if n in stops else "high_degree_account" for n in blocked}
    end = min(_us(params.as_of) if params.as_of else INF, hi)
    att = ref.attribute(
        txs,
        policy,
        str(params.rule),
        universe=universe,
        trail=trail,
        sinks=sinks,
        seed_txs=set(params.seed_transactions),
        placements=placements,
        given=dict(opening or {}),
        end=end,
        min_amount=minimum,
        window=(lo, hi),
        **claims,
    )
    att.hops, att.arrival, att.trail = hops, arrival, trail
    return att, wd, dep


def _minor(value) -> int:
    return int(Decimal(value).scaleb(2))


@SETTINGS
@given(scenarios(), st.booleans())
def test_engine_matches_reference(scenario, sparse) -> None:
    rows, params, opening = scenario
    ledger, txs = _build(rows, opening)
    # Small universes use compact slots; force them on these tiny ledgers half of the time.
    with patch.object(attribution, "SCAN_FACTOR", 0 if sparse else attribution.SCAN_FACTOR):
        got = trace(ledger, params)
    want, wd, dep = _reference(txs, params, opening)
    accounts = got.accounts
    nodes = list(zip(accounts["account"], accounts["currency"], strict=True))
    assert dict(zip(nodes, accounts["hops"], strict=True)) == want.hops
    assert set(got.flows["external_id"]) == want.trail
    rank_of = dep if params.direction == "forward" else wd
    seeds = {n for n, h in want.hops.items() if h == 0}
    for node, when in zip(nodes, accounts["reached_at"], strict=True):
        if node not in seeds:
            tx = next(t for t in txs if rank_of[t.id] == want.arrival[node])
            assert _us(when) + when.microsecond == tx.time
    if params.rule == "reach":
        return
    held = {n: _minor(v) for n, v in zip(nodes, accounts["held"], strict=True) if n in want.held}
    assert held == want.held
    got_exits = Counter(
        (i or "", (a, c), _minor(v), r)
        for i, a, c, v, r in got.exits.select(
            "external_id", "from_account", "currency", "traced", "reason"
        ).iter_rows()
    )
    assert got_exits == Counter(want.exits)
    traced = {
        i: _minor(v) for i, v in zip(got.flows["external_id"], got.flows["traced"], strict=True)
    }
    for tx_id, value in traced.items():
        seed_value = by_amount(txs, tx_id) if by_time(txs, tx_id) <= want_end(params) else 0
        expected = seed_value if tx_id in params.seed_transactions else want.traced.get(tx_id, 0)
        assert value == expected, tx_id
    opening_got = {
        n: _minor(v)
        for n, v in zip(nodes, accounts["opening_balance"], strict=True)
        if n in want.opening
    }
    assert opening_got == want.opening
    if params.rule != "poison":
        total_out = sum(want.held.values()) + sum(e[2] for e in want.exits)
        assert want.seeded == total_out  # the reference conserves, too
        assert got.summary["conserved"] is True
        assert all(v <= want.seeded for v in held.values())
        assert all(v <= want.seeded for v in traced.values() if v)


def by_time(txs, tx_id):
    return next(t.time for t in txs if t.id == tx_id)


def want_end(params):
    end = _us(params.as_of) if params.as_of else INF
    if params.window_end:
        end = min(end, int(params.window_end.timestamp() * 1_000_000))
    return end


def by_amount(txs, tx_id):
    return next(t.amount for t in txs if t.id == tx_id)


@SETTINGS
@given(ledgers(), st.integers(1, 4), st.sampled_from(["ledger", "worst_case", "best_case"]))
def test_reach_is_monotone_in_max_hops(rows, hops, policy) -> None:
    ledger, _ = _build(rows)
    seed = (rows[0][0],)
    small = trace(
        ledger, TraceParams(seed_transactions=seed, max_hops=hops, same_day_policy=policy)
    )
    big = trace(
        ledger, TraceParams(seed_transactions=seed, max_hops=hops + 1, same_day_policy=policy)
    )
    assert set(small.flows["external_id"]) <= set(big.flows["external_id"])
    pairs = set(small.accounts.select("account", "currency").iter_rows())
    assert pairs <= set(big.accounts.select("account", "currency").iter_rows())


@SETTINGS
@given(ledgers(), st.integers(1, 4), st.sampled_from(["ledger", "worst_case", "best_case"]))
def test_forward_and_backward_are_dual(rows, hops, policy) -> None:
    ledger, _ = _build(rows)
    nodes = sorted({(r[1], r[5]) for r in rows})
    source = nodes[0]

    def reached(account, currency, direction):
        result = trace(
            ledger,
            TraceParams(
                seeds=(AccountSeed(account=account, currency=currency),),
                direction=direction,
                max_hops=hops,
                same_day_policy=policy,
            ),
        )
        return {
            (a, c): h
            for a, c, h in result.accounts.select("account", "currency", "hops").iter_rows()
        }

    forward = reached(*source, "forward")
    for node in {(r[2], r[5]) for r in rows} | {(r[1], r[5]) for r in rows}:
        backward = reached(*node, "backward")
        assert (node in forward) == (source in backward)
        if node in forward:
            assert forward[node] == backward[source]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**62 - 1), st.integers(0, 2**62 - 1), st.integers(1, 2**62 - 1))
def test_haircut_multiply_divide_is_exact_beyond_64_bits(a, b, c) -> None:
    from tracing.rules.haircut import mul_div

    a = min(a, c)  # the rule only splits a withdrawal smaller than the balance
    assert mul_div(a, b, c) == divmod(a * b, c)
