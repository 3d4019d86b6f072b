"""Roles in the network and freezing proposals over HTTP, on the demo case (see
test_trace_api.py for the LIBR figures), with the suspect's cold wallet seeded too.

LIBR holds (EUR): seller 13,000.00, Limassol 10,900.00, Nordlicht 10,500.00, Anna (M1)
5,100.00, Horizon 2,500.00, Ben (M2) 700.00, Chris (M3) 300.00; and 0.21500000 BTC in the cold
wallet. Roles worked by hand:
- Ben (M2): cash 9,000 (01-05 11:30) and 9,700 (01-09 14:00) in; 12,000 (01-10 11:00) and
  6,000 (01-12 10:00) out. First in, first out: 9,000 dwelt 119.5 h, 3,000 21 h, 6,000 68 h;
  the median unit 68 h. Passed on 18,000 of 18,700 (0.9626), holds 700 (0.0374): a mule.
- The notary passed 13,000 of 13,000 on after 48 h: a mule too (escrow looks like one).
- Sinks: the seller (13,000, 0.2796 of 46,500), Limassol (0.2344), the cold wallet (all BTC).
- Exit: the car dealer (3,500, a stopped account); the exchange and the supermarket are stopped
  accounts too but no taint reached them under LIBR, so they are no exit of it.
"""

import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.demo.service import SEED_TRANSACTIONS
from app.interop.service import FTM_INSTALLED
from app.principal import Role
from app.proposal.repository import ProposalRepository
from app.trace.roles import account_roles
from app.trace.schemas import RoleThresholds
from tests.app.casework import criminal_case, order
from tests.factories import bearer, make_key

EXCHANGE = "iban:MT84MALT011000012345MTLCAST001S"
BEN = "iban:DE02120300000000202051"
NOTARY = "iban:DE89370400440532013000"
SELLER = "iban:DE12500105170648489890"
LIMASSOL = "iban:CY17002001280000001200527600"
NORDLICHT = "iban:DE75512108001245126199"
WALLET = "btc:bc1qf2yjnnl3pq6866cpd4mv7kfzjz3q5l04nd6c87"
CAR_DEALER = "ext:Autohaus Premium GmbH"


@pytest.fixture
def key(client: TestClient, session: Session) -> dict[str, str]:
    admin = bearer(make_key(session, name="admin"))
    assert client.post("/api/v1/demo", headers=admin).status_code == 201
    return admin


def run(client: TestClient, key: dict[str, str], rule: str = "libr", **extra: object) -> str:
    body = {
        "seeds": [{"transaction": t} for t in [*SEED_TRANSACTIONS, "DEMO-X02"]],
        "rule": rule,
        "stop_at": [EXCHANGE],
        **extra,
    }
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def roles(client: TestClient, key: dict[str, str], trace_id: str, **params: object) -> dict:
    r = client.get(f"/api/v1/traces/{trace_id}/roles", params=params, headers=key)
    assert r.status_code == 200, r.text
    return {i["account"]: {e["role"]: e["figures"] for e in i["roles"]} for i in r.json()["items"]}


def test_roles_of_the_demo_with_the_figures_that_earned_them(client, key):
    trace_id = run(client, key)
    found = roles(client, key, trace_id)
    assert {a: sorted(r) for a, r in found.items() if r} == {
        BEN: ["pass_through"],
        NOTARY: ["pass_through"],
        SELLER: ["sink"],
        LIMASSOL: ["sink"],
        WALLET: ["sink"],
        CAR_DEALER: ["exit"],
    }
    assert found[BEN]["pass_through"] == {
        "received": "18700.00",
        "passed_on": "18000.00",
        "passed_on_share": "0.9626",
        "held": "700.00",
        "held_share": "0.0374",
        "median_dwell_hours": "68",
    }
    assert found[SELLER]["sink"]["share_of_traced"] == "0.2796"
    assert found[WALLET]["sink"]["traced_total"] == "0.21500000"
    assert found[CAR_DEALER]["exit"] == {"reason": "stopped_account", "received": "3500.00"}
    assert found[NORDLICHT] == {}  # kept 42 %: neither a mule nor a sink
    # Filters and pages.
    assert list(roles(client, key, trace_id, role="sink")) == [WALLET, LIMASSOL, SELLER]
    assert list(roles(client, key, trace_id, account=BEN)) == [BEN]
    first = client.get(
        f"/api/v1/traces/{trace_id}/roles", params={"role": "sink", "limit": 2}, headers=key
    ).json()
    rest = client.get(
        f"/api/v1/traces/{trace_id}/roles",
        params={"role": "sink", "cursor": first["next_cursor"]},
        headers=key,
    ).json()
    assert [i["account"] for i in first["items"] + rest["items"]] == [WALLET, LIMASSOL, SELLER]
    assert first["items"][1]["holder"] == "Limassol Holdings Ltd"
    # The accounts list names the roles.
    items = client.get(f"/api/v1/traces/{trace_id}/accounts", headers=key).json()["items"]
    listed = {i["account"]: i["roles"] for i in items}
    assert (listed[BEN], listed[SELLER], listed[NORDLICHT]) == (["pass_through"], ["sink"], [])


def test_the_chart_marks_the_roles(client, key):
    trace_id = run(client, key)
    svg = client.get(f"/api/v1/traces/{trace_id}/graph.svg", headers=key)
    assert svg.status_code == 200
    texts = {t.strip() for t in re.findall(r">([^<>]+)</text>", svg.text)}
    # The legend explains each badge the drawn accounts carry (app.trace.render).
    assert {"P  pass-through", "S  sink", "E  exit"} <= texts


def test_thresholds_are_parameters_of_the_trace(client, key):
    strict = {"pass_through_max_dwell_hours": "48", "sink_min_share": "0.25"}
    trace_id = run(client, key, roles=strict)
    found = roles(client, key, trace_id)
    assert "pass_through" not in found[BEN]  # 68 h > 48 h
    assert "pass_through" in found[NOTARY]  # 48 h: at most 48 h
    assert [a for a, r in found.items() if "sink" in r] == [WALLET, SELLER]  # Limassol: 0.2344
    holdings = client.get(f"/api/v1/traces/{trace_id}/holdings", headers=key).json()["items"]
    assert {i["account"]: i["roles"] for i in holdings}[LIMASSOL] == []
    trace = client.get(f"/api/v1/traces/{trace_id}", headers=key).json()
    assert trace["request"]["roles"]["sink_min_share"] == "0.25"
    # A share is a fraction; a bad one is refused naming the field.
    bad = {"seeds": [{"transaction": "DEMO-D01"}], "roles": {"sink_min_held": "1.5"}}
    r = client.post("/api/v1/traces", json=bad, headers=key)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "roles", "sink_min_held"]


def test_reach_has_the_structural_roles_and_unknown_roles_are_refused(client, key):
    trace_id = run(client, key, rule="reach")
    found = roles(client, key, trace_id)
    assert found[EXCHANGE] == {"exit": {"reason": "stopped_account"}}
    assert not any("sink" in r or "pass_through" in r for r in found.values())
    r = client.get(f"/api/v1/traces/{trace_id}/roles", params={"role": "mule"}, headers=key)
    assert r.status_code == 422


def test_the_exports_carry_the_roles(client, key):
    trace_id = run(client, key)
    graphml = client.get(f"/api/v1/traces/{trace_id}/export/graphml", headers=key).text
    assert 'attr.name="roles"' in graphml
    assert "pass_through" in graphml
    gexf = client.get(f"/api/v1/traces/{trace_id}/export/gexf", headers=key).text
    assert "sink" in gexf
    entities = client.get(f"/api/v1/traces/{trace_id}/export/i2-entities.csv", headers=key).text
    header, *lines = entities.splitlines()
    assert header.split(",")[3:5] == ["role", "roles"]
    assert any(line.startswith(f"{BEN},") and ",pass_through," in line for line in lines)
    if FTM_INSTALLED:
        ftm = client.get(f"/api/v1/traces/{trace_id}/export/ftm", headers=key).text
        assert '"moneytrail-role:sink"' in ftm


def test_holdings_become_traced_assets_once(client, key, session):
    trace_id = run(client, key)
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    url = f"/api/v1/traces/{trace_id}/proposals"
    r = client.post(url, json={"case_id": case_id, "min_amount": "5000"}, headers=key)
    assert r.status_code == 201, r.text
    made = r.json()
    assert [(c["account"], c["held"], c["asset_type"]) for c in made["created"]] == [
        (SELLER, "13000.00", "bank_balance"),
        (LIMASSOL, "10900.00", "bank_balance"),
        (NORDLICHT, "10500.00", "bank_balance"),
        ("iban:DE44500105175407324931", "5100.00", "bank_balance"),
    ]
    assert {c["status"] for c in made["created"]} == {"TRACED"}
    assert {c["claimant_shares"] for c in made["created"]} == {None}
    assert [(s["account"], s["reason"]) for s in made["skipped"]] == [
        ("iban:GB29NWBK60161331926819", "below_min_amount"),
        (BEN, "below_min_amount"),
        ("iban:NL91ABNA0417164300", "below_min_amount"),
        (WALLET, "below_min_amount"),
    ]
    limassol = made["created"][1]
    assert limassol["transactions"] == ["DEMO-L05"]
    asset = client.get(f"/api/v1/assets/{limassol['asset_id']}", headers=key).json()
    assert (asset["status"], asset["type"], asset["account_key"]) == (
        "TRACED",
        "bank_balance",
        LIMASSOL,
    )
    assert asset["valuation"]["amount"] == "10900.00"
    assert asset["jurisdiction"] == "CY"
    assert [o["name"] for o in asset["owners"]] == ["Limassol Holdings Ltd"]
    assert [(k["trace_id"], k["transaction_id"] is not None) for k in asset["links"]] == [
        (trace_id, False),
        (None, True),
    ]
    history = client.get(f"/api/v1/assets/{limassol['asset_id']}/measures", headers=key).json()
    moves = [(m["to_status"], m["measure_type"]) for m in history["items"]]
    assert sorted(moves) == [("IDENTIFIED", "identification"), ("TRACED", "tracing")]
    # The same call again creates nothing; a lower minimum adds the rest, the wallet among them.
    again = client.post(url, json={"case_id": case_id, "min_amount": "5000"}, headers=key)
    assert again.status_code == 200
    assert again.json()["created"] == []
    assert [s["reason"] for s in again.json()["skipped"]][:4] == ["already_proposed"] * 4
    rest = client.post(url, json={"case_id": case_id}, headers=key).json()
    assert [(c["account"], c["held"], c["asset_type"]) for c in rest["created"]] == [
        ("iban:GB29NWBK60161331926819", "2500.00", "bank_balance"),
        (BEN, "700.00", "bank_balance"),
        ("iban:NL91ABNA0417164300", "300.00", "bank_balance"),
        (WALLET, "0.21500000", "crypto_holdings"),
    ]
    wallet = client.get(f"/api/v1/assets/{rest['created'][3]['asset_id']}", headers=key).json()
    assert (wallet["chain"], wallet["holding_asset"], wallet["holding_amount"]) == (
        "bitcoin",
        "BTC",
        "0.21500000",
    )
    assets = client.get(f"/api/v1/cases/{case_id}/assets", headers=key).json()["items"]
    assert len(assets) == 8


def test_an_account_under_an_active_measure_in_the_case_is_skipped(client, key):
    trace_id = run(client, key)
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    balance = {
        "type": "bank_balance",
        "description": "Nordlicht current account",
        "account": NORDLICHT,
        "valuation": {"amount": "39000.00", "currency": "EUR"},
    }
    frozen = client.post(f"/api/v1/cases/{case_id}/assets", json=balance, headers=key).json()
    r = client.post(
        f"/api/v1/assets/{frozen['id']}/transitions",
        json=order("FROZEN"),
        headers={**key, "If-Match": '"1"'},
    )
    assert r.status_code == 201, r.text
    made = client.post(
        f"/api/v1/traces/{trace_id}/proposals",
        json={"case_id": case_id, "min_amount": "10000"},
        headers=key,
    ).json()
    assert [c["account"] for c in made["created"]] == [SELLER, LIMASSOL]
    assert made["skipped"][0] == {
        "account": NORDLICHT,
        "currency": "EUR",
        "held": "10500.00",
        "reason": "active_measure",
        "detail": f"asset {frozen['id']} of the case is FROZEN",
        "asset_id": frozen["id"],
    }


def test_proposals_need_a_value_trace_and_a_case_the_caller_may_act_on(client, key, session):
    reach = run(client, key, rule="reach")
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    r = client.post(f"/api/v1/traces/{reach}/proposals", json={"case_id": case_id}, headers=key)
    assert (r.status_code, r.json()["code"]) == (422, "trace_measures_no_value")
    poison = run(client, key, rule="poison")
    r = client.post(f"/api/v1/traces/{poison}/proposals", json={"case_id": case_id}, headers=key)
    assert (r.status_code, r.json()["code"]) == (422, "trace_measures_no_value")
    # An investigator who ran the trace but is not on the case does not learn it exists; an
    # observer of the case may not act on it.
    other = bearer(make_key(session, Role.INVESTIGATOR, name="other"))
    mine = run(client, other)
    url = f"/api/v1/traces/{mine}/proposals"
    r = client.post(url, json={"case_id": case_id}, headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "case_not_found")
    other_id = next(k.id for k in session.query(ApiKey).filter_by(name="other"))
    member = {"api_key_id": other_id, "role": "observer"}
    assert client.put(f"/api/v1/cases/{case_id}/members", json=member, headers=key).is_success
    r = client.post(url, json={"case_id": case_id}, headers=other)
    assert (r.status_code, r.json()["code"]) == (403, "case_read_only")
    r = client.post(url, json={"case_id": case_id, "min_amount": "-1"}, headers=other)
    assert r.status_code == 422
    assert client.get(f"/api/v1/cases/{case_id}/assets", headers=key).json()["items"] == []


def test_a_proposal_racing_another_stores_nothing(client, key, monkeypatch):
    trace_id = run(client, key)
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    url = f"/api/v1/traces/{trace_id}/proposals"
    body = {"case_id": case_id, "min_amount": "10000"}
    assert client.post(url, json=body, headers=key).status_code == 201
    # A second call that did not see the first one's proposals (it read before they were
    # committed) collides with them on the unique holding, and stores none of its assets.
    monkeypatch.setattr(ProposalRepository, "of_trace_in_case", lambda *_: [])
    r = client.post(url, json={"case_id": case_id}, headers=key)
    assert (r.status_code, r.json()["code"]) == (409, "proposals_raced")
    assert len(client.get(f"/api/v1/cases/{case_id}/assets", headers=key).json()["items"]) == 3


def test_roles_are_worked_out_once_per_trace_and_thresholds(client, key, monkeypatch):
    made: list[RoleThresholds] = []

    def counted(result, thresholds, amount):
        made.append(thresholds)
        return account_roles(result, thresholds, amount)

    monkeypatch.setattr("app.trace.roles.account_roles", counted)
    trace_id = run(client, key)
    strict = run(client, key, roles={"sink_min_share": "0.25"})
    for path in ("roles", "accounts", "holdings", "graph.svg", "report.html", "export/gexf"):
        for one in (trace_id, strict, trace_id):
            r = client.get(f"/api/v1/traces/{one}/{path}", headers=key)
            assert r.status_code == 200, (path, r.text)
    # One computation for each trace under its own thresholds, read by every page after it.
    assert [t.sink_min_share for t in made] == [RoleThresholds().sink_min_share, Decimal("0.25")]
    assert roles(client, key, strict)[LIMASSOL] == {}
    assert "sink" in roles(client, key, trace_id)[LIMASSOL]
