"""Hypothesis: claimants' shares and sources of funds agree with the plain reference.

Properties: the engine's shares equal the reference's per account and claimant; each account's
shares sum to its held taint; per claimant, seeded = held + exited (conservation; not under
pari passu, which shares what is held anew); a payment's
sources equal the reference's and sum to it; and the sources of an account's balance, seeded
forward as claimants, give that balance back (backward/forward duality).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from decimal import Decimal
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from tests.tracing import reference as ref
from tests.tracing.test_properties import (
    SETTINGS,
    T0,
    _build,
    _minor,
    _reference,
    _us,
    ledgers,
    scenarios,
)
from tracing import AccountSeed, TraceParams, trace

BY = {"haircut": ["pro_rata", "fifo", "pari_passu"], "libr": ["pro_rata", "fifo", "pari_passu"]}


@st.composite
def claimant_scenarios(draw):
    rows, params, opening = draw(scenarios(attribution=["haircut", "fifo", "lifo", "libr"]))
    if not params.seeds:
        return None
    seeds = tuple(
        dataclasses.replace(s, claimant=draw(st.sampled_from(["A", "B", None])))
        for s in params.seeds
    )
    if all(s.claimant is None for s in seeds):
        seeds = (dataclasses.replace(seeds[0], claimant="A"), *seeds[1:])
    rule = str(params.rule)
    by = draw(st.sampled_from(BY.get(rule, [rule])))
    return rows, dataclasses.replace(params, seeds=seeds, claimant_rule=by), opening


def _labels(params: TraceParams, currencies: set[str]) -> dict[tuple[str | None, str], int]:
    keys = {(s.claimant, s.currency) for s in params.seeds} | {(None, c) for c in currencies}
    order = sorted(keys, key=lambda k: (k[0] is None, k[0] or "", k[1]))
    return {k: i + 1 for i, k in enumerate(order)}


@SETTINGS
@given(claimant_scenarios())
def test_claimant_shares_match_the_reference_and_are_conserved(scenario) -> None:
    if scenario is None:
        return
    rows, params, opening = scenario
    ledger, txs = _build(rows, opening)
    got = trace(ledger, params)
    labels = _labels(params, {r[5] for r in rows})
    name = {v: k for k, v in labels.items()}
    by = str(params.shares_by)
    keeping = "lots" if by == str(params.rule) else "pro_rata" if by == "pari_passu" else by
    want, _, _ = _reference(
        txs,
        params,
        opening,
        labels=[labels[s.claimant, s.currency] for s in params.seeds],
        make=lambda o: ref.Claims(o, keeping),
        seed_label=lambda t: labels[None, t.dst[1]],
    )
    expected = {}
    for node, account in want.accounts.items():
        held = ref.pari_passu(account) if by == "pari_passu" else account.held()
        for label, amount in held.items():
            expected[(*node, name[label][0])] = amount
    frame = got.claimants
    shares = {
        (a, c, k): _minor(h)
        for a, c, k, h in frame.select("account", "currency", "claimant", "held").iter_rows()
        if h
    }
    assert shares == expected
    # each account's shares sum exactly to its held taint
    per_account: dict = defaultdict(int)
    for (a, c, _), v in shares.items():
        per_account[a, c] += v
    held = {
        (a, c): _minor(h)
        for a, c, h in got.accounts.select("account", "currency", "held").iter_rows()
        if h
    }
    assert per_account == held
    # per claimant: what was seeded is held or exited (pari passu shares what is held anew,
    # so there only the accounts' totals are conserved, checked above)
    if by == "pari_passu":
        return
    for claimant, figures in got.summary["claimants"].items():
        for currency, f in figures.items():
            seeded = sum(
                math.ceil(s.amount.scaleb(2))
                for s in params.seeds
                if (s.claimant, s.currency) == (claimant, currency)
            )
            assert _minor(f["held"]) + _minor(f["exited"]) == seeded, (rows, params, opening)


@st.composite
def backward_scenarios(draw):
    rows = draw(ledgers())
    rule = draw(st.sampled_from(["fifo", "lifo", "haircut"]))
    seed = draw(st.sampled_from(rows))[0]
    max_hops = draw(st.integers(1, 4))
    return rows, TraceParams(
        seed_transactions=(seed,), rule=rule, direction="backward", max_hops=max_hops
    )


@SETTINGS
@given(backward_scenarios())
def test_sources_of_a_payment_match_the_reference_and_sum_to_it(scenario) -> None:
    rows, params = scenario
    ledger, txs = _build(rows)
    got = trace(ledger, params)
    seed = next(t for t in txs if t.id == params.seed_transactions[0])
    reached, _, _ = _reference(txs, dataclasses.replace(params, rule="reach"), None)
    hops = reached.hops
    universe = {n for n, h in hops.items() if h < params.max_hops}

    def origin(node, why):
        if why == "opening":
            why = "opening_balance"
        elif why != "overdraft":
            why = "hop_limit" if node in hops else "unfollowed"
        return (node[0], node[1], why)

    def replay(label_of):
        return ref.sources(
            txs,
            "ledger",
            str(params.rule),
            universe=universe,
            seed_tx=seed,
            given={},
            end=seed.time,
            label_of=label_of,
        )

    # labels in the engine's order (by account key, then currency): find the origins first
    found: set = set()
    replay(lambda n, why: found.add(origin(n, why)) or 1)
    ordered = {k: i + 1 for i, k in enumerate(sorted(found))}
    name = {v: k for k, v in ordered.items()}
    want = replay(lambda n, why: ordered[origin(n, why)])
    expected = {
        (name[k][0], name[k][2]) if k else (seed.src[0], "overdraft"): v for k, v in want.items()
    }
    s = got.sources
    sources = {(o, r): _minor(a) for o, r, a in s.select("origin", "reason", "amount").iter_rows()}
    assert sources == expected
    assert sum(sources.values()) == seed.amount


@SETTINGS
@given(ledgers(), st.sampled_from(["fifo", "lifo", "haircut"]), st.data())
def test_sources_backward_and_claimants_forward_are_dual(rows, rule, data) -> None:
    ledger, txs = _build(rows)
    node = data.draw(st.sampled_from(sorted({t.dst for t in txs})))
    when = data.draw(st.sampled_from(sorted({t.time for t in txs})))
    at = T0.fromtimestamp(when / 1_000_000, T0.tzinfo)
    seed = AccountSeed(account=node[0], currency=node[1], at=at)
    back = trace(ledger, TraceParams(seeds=[seed], rule=rule, direction="backward", max_hops=64))
    s = back.sources
    found = {o: _minor(a) for o, r, a in s.select("origin", "reason", "amount").iter_rows()}
    if not found:
        return
    # every origin's own money (its opening up to then), seeded forward with its name
    order = sorted(txs, key=lambda t: (t.time, t.seq, t.id))
    seeds = []
    for origin in sorted(found):
        run = low = 0
        for t in order:
            if t.time > when:
                break
            if t.src == (origin, node[1]):
                run -= t.amount
                low = min(low, run)
            elif t.dst == (origin, node[1]):
                run += t.amount
        seeds.append(
            AccountSeed(
                account=origin,
                currency=node[1],
                amount=Decimal(-low).scaleb(-2),
                claimant=origin,
            )
        )
    fwd = trace(ledger, TraceParams(seeds=seeds, rule=rule, max_hops=64, as_of=at))
    c = fwd.claimants
    held = {
        k: _minor(h)
        for a, cur, k, h in c.select("account", "currency", "claimant", "held").iter_rows()
        if (a, cur) == node and h
    }
    assert held == found
    assert _us(at) == when


@SETTINGS
@given(st.one_of(claimant_scenarios(), backward_scenarios()))
def test_shares_as_matrix_rows_equal_shares_as_pooled_vectors(scenario) -> None:
    # Few labels pro rata replay as dense rows (tracing.dense); many as vectors in a pool.
    if scenario is None:
        return
    rows, params, *opening = scenario
    ledger, _ = _build(rows, *opening)
    as_rows = trace(ledger, params)
    with patch("tracing.labelled.MAX_LABELS", 0):
        as_vectors = trace(ledger, params)
    frame = "sources" if params.value_backward else "claimants"
    assert getattr(as_rows, frame).equals(getattr(as_vectors, frame)), (rows, params)
    assert as_rows.summary == as_vectors.summary
