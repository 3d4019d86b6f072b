"""The engine's kernels are compiled before the service answers (issue 14, item 7)."""

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.trace import lifecycle
from tracing import ClaimantRule, Direction, Ledger, Rule, SameDayPolicy, trace
from tracing.labelled import MAX_LABELS


def test_the_warm_up_asks_for_every_rule_policy_direction_and_limit():
    params = list(lifecycle._warm_params())
    assert {p.rule for p in params} == set(Rule)
    assert {p.same_day_policy for p in params} == set(SameDayPolicy)
    assert {p.direction for p in params} == set(Direction)
    assert any(p.seed_transactions for p in params)
    assert any(p.seeds and p.seeds[0].amount is not None for p in params)
    assert any(p.max_counterparties for p in params)
    assert any(p.stop_at for p in params)
    assert any(p.min_amount for p in params)
    # the labelled replays: each claimant rule, vectors beyond the dense rows, sources of funds
    claimants = [p for p in params if p.has_claimants]
    assert {p.shares_by for p in claimants} == set(ClaimantRule)
    assert any(len(p.seeds) > MAX_LABELS for p in claimants)
    assert {p.rule for p in params if p.value_backward} == {Rule.HAIRCUT, Rule.FIFO, Rule.LIFO}


@pytest.mark.parametrize("rule", list(Rule))
def test_each_rule_traces_money_through_the_warm_up_ledger(rule):
    ledger = Ledger.from_frame(lifecycle._warm_ledger_frame())
    results = [trace(ledger, p) for p in lifecycle._warm_params() if p.rule is rule]
    assert results
    # A warm-up that traced nothing would compile nothing past the seeds.
    assert all(r.flows.height > 0 for r in results)


def test_the_service_compiles_the_engine_before_it_answers(engine, settings, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(lifecycle, "compile_engine", lambda: calls.append("compiled"))
    # The ledger warm-up thread would outlive the app and hold a connection past the test.
    monkeypatch.setattr(lifecycle, "_warm", lambda app: None)
    app = create_app(settings.model_copy(update={"trace_warm_ledger": True}))
    with TestClient(app) as client:
        assert calls == ["compiled"]  # start-up completed only after it
        assert client.get("/readyz").status_code == 200
