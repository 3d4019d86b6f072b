"""Roles in the network on typology-shaped ledgers, against roles and figures worked by hand.

Amounts in EUR; every seed arrives at 00:00 of its day, every transfer at 12:00 unless said.
Pure: the roles are read off the engine's result, no database.
"""

from decimal import Decimal

import pytest

from app.trace.roles import metrics, roles_by_account, roles_of_rows
from app.trace.schemas import RoleThresholds
from tests.tracing.factories import at, ledger
from tracing import AccountSeed, Rule, TraceParams, TraceResult, trace


def seeds(*accounts: str, amount: int = 1000) -> tuple[AccountSeed, ...]:
    return tuple(
        AccountSeed(account=a, currency="EUR", amount=Decimal(amount), at=at(0, 0))
        for a in accounts
    )


def run(rows, seeded, rule: Rule = Rule.FIFO, **params) -> TraceResult:
    return trace(ledger(*rows), TraceParams(seeds=seeded, rule=rule, **params))


def figures(result: TraceResult, account: str, thresholds: RoleThresholds | None = None) -> dict:
    frame = metrics(result)
    rows = frame.filter(frame["account"] == account).to_dicts()
    found = roles_of_rows(rows, result, thresholds or RoleThresholds(), lambda v, c: str(v))
    return {r["role"]: r["figures"] for r in found[0]}


def test_fan_in_makes_a_collector_that_is_a_sink():
    # Four victims' accounts pay one collection account, which keeps it all.
    rows = [(f"v{i}", f"acct:V{i}", "acct:C", 1000, at(0)) for i in range(1, 5)]
    result = run(rows, seeds(*(f"acct:V{i}" for i in range(1, 5))))
    assert roles_by_account(result) == {
        "acct:C": ["collector", "sink"],
        **{f"acct:V{i}": ["pass_through"] for i in range(1, 5)},
    }
    assert figures(result, "acct:C") == {
        "collector": {"senders": 4},
        "sink": {
            "received": "4000.00",
            "held": "4000.00",
            "held_share": "1",
            "traced_total": "4000.00",
            "share_of_traced": "1",
        },
    }
    # 1000 passed on 12 hours after it arrived: a mule
    assert figures(result, "acct:V1")["pass_through"] == {
        "received": "1000.00",
        "passed_on": "1000.00",
        "passed_on_share": "1",
        "held": "0.00",
        "held_share": "0",
        "median_dwell_hours": "12",
    }


def test_fan_out_makes_a_distributor_and_three_sinks():
    rows = [(f"r{i}", "acct:S", f"acct:R{i}", 1000, at(0)) for i in range(1, 4)]
    result = run(rows, seeds("acct:S", amount=3000))
    # The seed passes everything on but is no broker: a broker is never a seed.
    assert roles_by_account(result) == {
        "acct:R1": ["sink"],
        "acct:R2": ["sink"],
        "acct:R3": ["sink"],
        "acct:S": ["pass_through", "distributor"],
    }
    assert figures(result, "acct:R2")["sink"]["share_of_traced"] == "0.3333"
    assert figures(result, "acct:S")["distributor"] == {"receivers": 3}


def test_scatter_gather_mules_feed_one_collector():
    rows = [
        ("s1", "acct:S", "acct:A", 1000, at(0)),
        ("s2", "acct:S", "acct:B", 1000, at(0)),
        ("s3", "acct:S", "acct:C", 1000, at(0)),
        ("a", "acct:A", "acct:G", 1000, at(1)),
        ("b", "acct:B", "acct:G", 1000, at(1, 18)),
        ("c", "acct:C", "acct:G", 1000, at(3, 18)),  # 78 hours at C: too slow for a mule
    ]
    result = run(rows, seeds("acct:S", amount=3000))
    assert roles_by_account(result) == {
        "acct:A": ["pass_through"],
        "acct:B": ["pass_through"],
        "acct:G": ["collector", "sink"],
        "acct:S": ["pass_through", "distributor"],
    }
    assert figures(result, "acct:B")["pass_through"]["median_dwell_hours"] == "30"
    assert figures(result, "acct:C") == {}
    # With a longer allowance C is a mule too.
    slow = RoleThresholds(pass_through_max_dwell_hours=Decimal(78))
    assert figures(result, "acct:C", slow)["pass_through"]["median_dwell_hours"] == "78"


def test_gather_scatter_makes_a_hub_and_a_broker():
    rows = [
        ("v1", "acct:V1", "acct:H", 1000, at(0)),
        ("v2", "acct:V2", "acct:H", 1000, at(0)),
        ("v3", "acct:V3", "acct:H", 1000, at(0)),
        ("x", "acct:H", "acct:X", 1500, at(0, 18)),
        ("y", "acct:H", "acct:Y", 1000, at(1)),
        ("z", "acct:H", "acct:Z", 500, at(1)),
    ]
    result = run(rows, seeds("acct:V1", "acct:V2", "acct:V3"))
    assert roles_by_account(result)["acct:H"] == [
        "pass_through",
        "collector",
        "distributor",
        "hub",
        "broker",
    ]
    hub = figures(result, "acct:H")
    # Half the taint left after 6 hours, the other half after 24: the median is the lower.
    assert hub["pass_through"]["median_dwell_hours"] == "6"
    assert hub["hub"] == {"senders": 3, "receivers": 3}
    assert hub["broker"] == {
        "passed_on": "3000.00",
        "traced_total": "3000.00",
        "share_of_traced": "1",
    }
    assert roles_by_account(result)["acct:Z"] == ["sink"]  # 500 of 3000 is more than 5 %


def test_a_cycle_passes_the_same_taint_twice_and_exits_at_a_stopped_account():
    rows = [
        ("sa", "acct:S", "acct:A", 1000, at(0)),
        ("ab", "acct:A", "acct:B", 1000, at(1)),
        ("bc", "acct:B", "acct:C", 1000, at(2)),
        ("ca", "acct:C", "acct:A", 1000, at(3)),
        ("ae", "acct:A", "acct:E", 1000, at(4)),
    ]
    result = run(rows, seeds("acct:S"), stop_at=frozenset({"acct:E"}))
    roles = roles_by_account(result)
    assert roles["acct:A"] == ["pass_through", "broker"]
    assert roles["acct:B"] == roles["acct:C"] == ["pass_through", "broker"]
    assert roles["acct:E"] == ["exit"]
    assert figures(result, "acct:A")["broker"]["passed_on"] == "2000.00"
    assert figures(result, "acct:E") == {
        "exit": {"reason": "stopped_account", "received": "1000.00"}
    }
    # With a lower bar A, paid by S and by C, collects.
    two = RoleThresholds(collector_min_senders=2)
    assert figures(result, "acct:A", two)["collector"] == {"senders": 2}


def test_a_layering_chain_is_cut_at_the_hop_limit():
    rows = [
        ("l1", "acct:S", "acct:L1", 1000, at(0)),
        ("l2", "acct:L1", "acct:L2", 1000, at(5)),  # five days at L1: no mule
        ("l3", "acct:L2", "acct:L3", 900, at(6)),  # L2 keeps 100 (10 %)
        ("l4", "acct:L3", "acct:L4", 900, at(6, 20)),
    ]
    result = run(rows, seeds("acct:S"), max_hops=3)
    roles = roles_by_account(result)
    assert roles["acct:L1"] == ["broker"]
    assert roles["acct:L2"] == ["pass_through", "broker"]
    assert roles["acct:L3"] == ["pass_through", "broker", "exit"]
    assert figures(result, "acct:L3")["exit"] == {"exited": "900.00", "reasons": ["hop_limit"]}
    assert figures(result, "acct:L2")["pass_through"]["held_share"] == "0.1"


def test_a_mule_that_keeps_too_much_is_neither_mule_nor_sink():
    rows = [("m", "acct:M", "acct:X", 700, at(0)), ("x", "acct:X", "acct:Y", 700, at(0, 14))]
    result = run(rows, seeds("acct:M"))
    assert figures(result, "acct:M") == {}  # 30 % kept: more than 20 %, less than 80 %
    assert roles_by_account(result)["acct:X"] == ["pass_through", "broker"]


def test_reach_gets_the_structural_roles_only():
    rows = [(f"v{i}", f"acct:V{i}", "acct:C", 1000, at(0)) for i in range(1, 4)]
    rows.append(("out", "acct:C", "acct:E", 3000, at(1)))
    result = trace(
        ledger(*rows),
        TraceParams(seed_transactions=("v1", "v2", "v3"), stop_at=frozenset({"acct:E"})),
    )
    assert roles_by_account(result) == {"acct:C": ["collector"], "acct:E": ["exit"]}
    assert figures(result, "acct:E") == {"exit": {"reason": "stopped_account"}}


@pytest.mark.parametrize("rule", [Rule.FIFO, Rule.LIFO, Rule.HAIRCUT, Rule.LIBR])
def test_roles_of_a_pure_fan_in_do_not_depend_on_the_rule(rule):
    rows = [(f"v{i}", f"acct:V{i}", "acct:C", 1000, at(0)) for i in range(1, 4)]
    result = run(rows, seeds(*(f"acct:V{i}" for i in range(1, 4))), rule=rule)
    assert roles_by_account(result)["acct:C"] == ["collector", "sink"]
