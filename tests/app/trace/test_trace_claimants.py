"""Claimants' shares and sources of funds over HTTP, on the issue's worked fund.

Fund X (the victims pay it from their own accounts, which are the seeds): A deposits 600
(day 1), B 400 (day 2), 500 leaves to Y (day 3), C 500 (day 4), 300 leaves to Z (day 5); 700
remains. FIFO: A 0, B 200, C 500. Rolling charge: A 210, B 140,
C 350. Pari passu: A 280.00, B 186.67, C 233.33.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.asset.models import Asset
from app.proposal import service as proposal_service
from app.trace import service as trace_service
from app.trace.caches import BoundedCache
from app.trace.repository import TraceRepository
from app.trace.shares import claimant_holdings
from tests.app.casework import Api, criminal_case, order
from tests.factories import DE, FR, batch, bearer, make_key, tx
from tracing import TraceResult

X, Y, Z = DE, FR, "iban:CY17002001280000001200527600"
VA, VB, VC = (
    "iban:DE75512108001245126199",
    "iban:DE12500105170648489890",
    "iban:NL91ABNA0417164300",
)
WANT = {
    "fifo": {"A": "0.00", "B": "200.00", "C": "500.00"},
    "pro_rata": {"A": "210.00", "B": "140.00", "C": "350.00"},
    "pari_passu": {"A": "280.00", "B": "186.67", "C": "233.33"},
}


@pytest.fixture
def key(client: TestClient, session: Session) -> dict[str, str]:
    admin = bearer(make_key(session))
    rows = batch(
        tx("F1", VA, X, "600.00", value_time="2026-01-01T10:00:00Z"),
        tx("F2", VB, X, "400.00", value_time="2026-01-02T10:00:00Z"),
        tx("F3", X, Y, "500.00", value_time="2026-01-03T10:00:00Z"),
        tx("F4", VC, X, "500.00", value_time="2026-01-04T10:00:00Z"),
        tx("F5", X, Z, "300.00", value_time="2026-01-05T10:00:00Z"),
    )
    assert client.post("/api/v1/transactions/batch", json=rows, headers=admin).status_code == 201
    return admin


def _victims() -> list[dict[str, str]]:
    # each victim's account paid the fund all the victim lost: its seed is that money
    return [
        {"account": a, "currency": "EUR", "amount": m, "at": "2026-01-01T00:00:00Z", "claimant": c}
        for c, a, m in (("A", VA, "600.00"), ("B", VB, "400.00"), ("C", VC, "500.00"))
    ]


def _run(client: TestClient, key: dict[str, str], **body: object) -> dict:
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize(
    ("rule", "claimant_rule"),
    [("fifo", None), ("haircut", None), ("haircut", "pari_passu"), ("haircut", "fifo")],
)
def test_claimants_shares_of_the_worked_fund(
    client: TestClient, key: dict[str, str], rule: str, claimant_rule: str | None
) -> None:
    extra = {} if claimant_rule is None else {"claimant_rule": claimant_rule}
    trace = _run(client, key, seeds=_victims(), rule=rule, **extra)
    url = f"/api/v1/traces/{trace['id']}/claimants"
    items = client.get(url, params={"account": X}, headers=key).json()["items"]
    want = WANT[claimant_rule or ("fifo" if rule == "fifo" else "pro_rata")]
    assert {i["claimant"]: i["held"] for i in items} == want
    assert {i["claimant"]: i["received"] for i in items} == {
        "A": "600.00",
        "B": "400.00",
        "C": "500.00",
    }
    by_a = client.get(url, params={"claimant": "A", "limit": 1}, headers=key).json()
    assert [i["claimant"] for i in by_a["items"]] == ["A"]
    assert by_a["next_cursor"] is not None
    rest = client.get(url, params={"claimant": "A", "cursor": by_a["next_cursor"]}, headers=key)
    assert all(i["claimant"] == "A" for i in rest.json()["items"])
    claimants = trace["summary"]["engine"]["claimants"]
    assert set(claimants) == {"A", "B", "C"}
    assert claimants["C"]["EUR"]["exited"] == "0.00"


def _stored(client: TestClient, session: Session, trace_id: str, monkeypatch) -> TraceResult:
    """The result rebuilt from the stored frames alone (no cached result, no re-run)."""
    runtime = client.app.state.trace_runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "results", BoundedCache(max_items=4, max_bytes=1 << 30))
    run = TraceRepository(session).get(trace_id)
    assert run is not None
    return trace_service.finished_result(session, run, runtime)


def test_claimant_holdings_for_proposals(client, key, session, monkeypatch) -> None:
    trace = _run(client, key, seeds=_victims(), rule="haircut", claimant_rule="pari_passu")
    held = claimant_holdings(_stored(client, session, trace["id"], monkeypatch))
    assert [(c, str(v)) for c, v in held[X]] == [
        ("A", "280.00"),
        ("B", "186.67"),
        ("C", "233.33"),
    ]
    assert sum(v for _, v in held[Y]) == 500
    plain = _run(client, key, seeds=[{"transaction": "F1"}], rule="fifo")
    assert claimant_holdings(_stored(client, session, plain["id"], monkeypatch)) == {}


def _fund_proposed(client: TestClient, key: dict[str, str]) -> Any:
    """The fund's holding proposed in a new case from a pari passu trace of the victims."""
    trace = _run(client, key, seeds=_victims(), rule="haircut", claimant_rule="pari_passu")
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    return client.post(
        f"/api/v1/traces/{trace['id']}/proposals",
        json={"case_id": case_id, "min_amount": "600"},
        headers=key,
    )


def test_freezing_proposals_carry_the_claimants_shares(client, key) -> None:
    # Barlow Clowes: the fund's 700 is proposed for freezing with each victim's share of it,
    # for restitution later; the shares sum to the asset's value.
    r = _fund_proposed(client, key)
    assert r.status_code == 201, r.text
    [fund] = r.json()["created"]
    assert (fund["account"], fund["held"]) == (X, "700.00")
    assert fund["claimant_shares"] == [
        {"claimant": "A", "amount": "280.00"},
        {"claimant": "B", "amount": "186.67"},
        {"claimant": "C", "amount": "233.33"},
    ]


def test_confiscated_proceeds_go_to_the_claimants_by_their_shares(
    client: TestClient, key: dict[str, str]
) -> None:
    # The victims, named by party keys, are the claimants; the fund's 700.00 is confiscated
    # and returned to them as Barlow Clowes shares it.
    victims = [{"key": f"person:victim-{c.lower()}", "kind": "person", "name": c} for c in "ABC"]
    register = {
        "source": {"kind": "complaint", "reference": "victims' complaints"},
        "parties": victims,
        "accounts": [
            {"key": a, "currency": "EUR", "holders": [{"party": v["key"]}]}
            for a, v in zip((VA, VB, VC), victims, strict=True)
        ],
    }
    api = Api(client, key)
    api.post("/api/v1/accounts/batch", register)
    seeds = [{**s, "claimant": f"person:victim-{s['claimant'].lower()}"} for s in _victims()]
    trace = _run(client, key, seeds=seeds, rule="haircut", claimant_rule="pari_passu")
    case_id = api.post("/api/v1/cases", criminal_case())["id"]
    made = api.post(
        f"/api/v1/traces/{trace['id']}/proposals", {"case_id": case_id, "min_amount": "600"}
    )
    fund = made["created"][0]["asset_id"]
    refused = client.post(
        f"/api/v1/assets/{fund}/allocation", json={"from_claimants": True}, headers=key
    )
    assert (refused.status_code, refused.json()["current_status"]) == (409, "TRACED")
    for step in ("FROZEN", "CONFISCATION_ORDERED", "CONFISCATED"):
        r = api.move(fund, order(step))
        assert r.status_code == 201, r.text
    both = {"from_claimants": True, "victims": [{"party": "person:victim-a", "amount": "1"}]}
    r = client.post(f"/api/v1/assets/{fund}/allocation", json=both, headers=key)
    assert r.status_code == 422
    allocated = api.post(f"/api/v1/assets/{fund}/allocation", {"from_claimants": True})
    assert (allocated["proceeds"], allocated["to_victims"], allocated["to_state"]) == (
        "700.00",
        "700.00",
        "0.00",
    )
    victim_ids = {
        v["key"]: client.get(f"/api/v1/parties/{v['key']}", headers=key).json()["id"]
        for v in victims
    }
    paid = {s["party_id"]: s["amount"] for s in allocated["shares"] if s["recipient"] == "victim"}
    assert paid == {
        victim_ids["person:victim-a"]: "280.00",
        victim_ids["person:victim-b"]: "186.67",
        victim_ids["person:victim-c"]: "233.33",
    }


def test_claimants_who_are_no_party_cannot_be_paid_by_their_shares(
    client: TestClient, key: dict[str, str]
) -> None:
    api = Api(client, key)
    trace = _run(client, key, seeds=_victims(), rule="haircut")
    case_id = api.post("/api/v1/cases", criminal_case())["id"]
    made = api.post(
        f"/api/v1/traces/{trace['id']}/proposals", {"case_id": case_id, "min_amount": "600"}
    )
    fund = made["created"][0]["asset_id"]
    for step in ("FROZEN", "CONFISCATION_ORDERED", "CONFISCATED"):
        assert api.move(fund, order(step)).status_code == 201
    r = client.post(f"/api/v1/assets/{fund}/allocation", json={"from_claimants": True}, headers=key)
    assert (r.status_code, r.json()["errors"][0]["loc"][-1]) == (422, "from_claimants")
    assert "names no party" in r.json()["detail"]


def test_sources_of_a_payment(client: TestClient, key: dict[str, str]) -> None:
    trace = _run(client, key, seeds=[{"transaction": "F5"}], rule="haircut", direction="backward")
    items = client.get(f"/api/v1/traces/{trace['id']}/sources", headers=key).json()["items"]
    # X held A 300, B 200 (rolling charge) + C 500 when F5 paid 300 of its 1000
    assert [(i["origin"], i["amount"], i["reason"], i["hop"]) for i in items] == [
        (VC, "150.00", "opening_balance", 1),
        (VA, "90.00", "opening_balance", 1),
        (VB, "60.00", "opening_balance", 1),
    ]
    assert trace["summary"]["engine"]["currencies"]["EUR"] == {
        "seeded": "300.00",
        "sourced": "300.00",
    }
    paths = client.get(
        f"/api/v1/traces/{trace['id']}/explain", params={"to": VA}, headers=key
    ).json()
    assert [s["transaction"] for s in paths[0]["steps"]] == ["F1", "F5"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"rule": "poison"}, "no shares"),
        ({"rule": "fifo", "claimant_rule": "pro_rata"}, "follow the lots"),
    ],
)
def test_claimants_refused_as_problems(client, key, body, says) -> None:
    r = client.post("/api/v1/traces", json={"seeds": _victims(), **body}, headers=key)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"]


@pytest.mark.parametrize(
    ("rule", "why"), [("libr", "LIBR measures one taint"), ("poison", "exposure")]
)
def test_libr_and_poison_backward_are_refused_with_the_reason(client, key, rule, why) -> None:
    body = {"seeds": [{"transaction": "F5"}], "rule": rule, "direction": "backward"}
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 422
    assert why in r.json()["detail"]


def test_lists_of_a_trace_without_them_are_conflicts(client, key) -> None:
    trace = _run(client, key, seeds=[{"transaction": "F1"}], rule="fifo")
    r = client.get(f"/api/v1/traces/{trace['id']}/claimants", headers=key)
    assert (r.status_code, r.json()["code"]) == (409, "trace_has_no_claimants")
    r = client.get(f"/api/v1/traces/{trace['id']}/sources", headers=key)
    assert (r.status_code, r.json()["code"]) == (409, "trace_has_no_sources")


def test_claimants_are_private_like_the_trace(client, session, key) -> None:
    trace = _run(client, key, seeds=_victims(), rule="haircut")
    other = bearer(make_key(session, role="analyst"))  # type: ignore[arg-type]
    assert client.get(f"/api/v1/traces/{trace['id']}/claimants", headers=other).status_code == 404
    assert client.get(f"/api/v1/traces/{trace['id']}/sources", headers=other).status_code == 404


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_stored_trace_reads_back_byte_identical(client, key, session, monkeypatch, direction):
    if direction == "forward":
        trace = _run(client, key, seeds=_victims(), rule="haircut")
        frame = '"claimants":['
    else:
        trace = _run(client, key, seeds=[{"transaction": "F5"}], rule="fifo", direction=direction)
        frame = '"sources":['
    stored = client.get(f"/api/v1/traces/{trace['id']}/result.json", headers=key).content
    assert frame in stored.decode()
    assert _stored(client, session, trace["id"], monkeypatch).to_json_bytes() == stored


def test_the_claimants_shares_follow_replacements_in_one_query(client, key, session) -> None:
    # Sale proceeds replace what was sold, and may be replaced again: the shares of the
    # proposal at the chain's end are found by one query, however long the chain.
    made = _fund_proposed(client, key).json()
    fund = session.get(Asset, made["created"][0]["asset_id"])
    assert fund is not None
    replaced = fund.id
    for n in range(3):
        copy = Asset(
            case_id=fund.case_id,
            type="cash",
            description=f"proceeds {n}",
            status="FROZEN",
            replaces_asset_id=replaced,
            created_by=fund.created_by,
            created_at=fund.created_at,
        )
        session.add(copy)
        session.flush()
        replaced = copy.id
    session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's transaction
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        shares = proposal_service.claimant_shares_of_asset(session, replaced)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert shares == [
        {"claimant": "A", "amount": "280.00"},
        {"claimant": "B", "amount": "186.67"},
        {"claimant": "C", "amount": "233.33"},
    ]
    assert len(statements) == 1
    plain = Asset(
        case_id=fund.case_id,
        type="cash",
        description="found at a search",
        status="FROZEN",
        created_by=fund.created_by,
        created_at=fund.created_at,
    )
    session.add(plain)
    session.commit()
    assert proposal_service.claimant_shares_of_asset(session, plain.id) is None


def test_victims_paying_in_are_seed_transactions_naming_them(
    client: TestClient, key: dict[str, str]
) -> None:
    # The victims' payments into the fund are the seeds, each naming its payer as claimant.
    seeds = [{"transaction": t, "claimant": c} for t, c in (("F1", "A"), ("F2", "B"), ("F4", "C"))]
    for claimant_rule in ("pro_rata", "pari_passu", "fifo"):
        trace = _run(client, key, seeds=seeds, rule="haircut", claimant_rule=claimant_rule)
        url = f"/api/v1/traces/{trace['id']}/claimants"
        items = client.get(url, params={"account": X}, headers=key).json()["items"]
        assert {i["claimant"]: i["held"] for i in items} == WANT[claimant_rule]
        stored = client.get(f"/api/v1/traces/{trace['id']}", headers=key).json()
        assert {s.get("transaction"): s.get("claimant") for s in stored["request"]["seeds"]} == {
            "F1": "A",
            "F2": "B",
            "F4": "C",
        }
    backward = {"seeds": seeds[:1], "rule": "fifo", "direction": "backward"}
    r = client.post("/api/v1/traces", json=backward, headers=key)
    assert r.status_code == 422
    assert "claimants are traced forward" in r.json()["detail"]


def test_a_minimum_per_currency_replaces_the_minimum_of_every_currency(
    client: TestClient, key: dict[str, str]
) -> None:
    w = "iban:GB29NWBK60161331926819"
    usd = batch(tx("U1", VA, w, "50.00", currency="USD"), reference="PO-2026-018")
    assert client.post("/api/v1/transactions/batch", json=usd, headers=key).status_code == 201
    trace = _run(client, key, seeds=[{"transaction": "F1"}, {"transaction": "U1"}], rule="fifo")
    case_id = client.post("/api/v1/cases", json=criminal_case(), headers=key).json()["id"]
    url = f"/api/v1/traces/{trace['id']}/proposals"
    # 100 read in every currency: the 50.00 USD held at W is below it
    first = client.post(url, json={"case_id": case_id, "min_amount": "100"}, headers=key).json()
    assert [(c["account"], c["held"]) for c in first["created"]] == [(Y, "500.00"), (Z, "100.00")]
    [skip] = first["skipped"]
    assert (skip["account"], skip["currency"], skip["reason"]) == (w, "USD", "below_min_amount")
    assert skip["detail"] == "below the minimum amount 100 USD"
    # USD's own minimum (any case) replaces it for USD alone
    body = {"case_id": case_id, "min_amount": "100", "min_amounts": {"usd": "10"}}
    second = client.post(url, json=body, headers=key).json()
    assert [(c["account"], c["currency"]) for c in second["created"]] == [(w, "USD")]
    bad = {"case_id": case_id, "min_amounts": {"USD": "ten"}}
    r = client.post(url, json=bad, headers=key)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][:2] == ["body", "min_amounts"]
