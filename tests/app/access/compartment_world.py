"""A ledger with data filed in case A beside the shared pool, for the compartment tests.

Shared pool: a statement moving money out of DE (S-1, S-2) and the party `person:common`.
Case A: the party `person:zebulon` (Zebulon Quillfeather), the account GB that only case A
knows, a holder link naming zebulon on the shared account DE, two transactions touching DE
(one of them the duplicate of S-2), an account stored with an invalid number, and a
correction of its commission CASEA-5 (a shared record is corrected in the shared pool).
Everything of case A carries one of `SECRETS` in what it shows.

`grow` adds case B, whose members may open its own objects, built on what case A stated of
shared records: see `CaseB`.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.apikey import service as apikey_service
from app.principal import Role
from tests.factories import DE, FR, bearer, make_key, tx

GB = "iban:GB29NWBK60161331926819"
BAD = "iban:DE88370400440532013000"  # DE89... with its check digits changed
ZEBULON = "person:zebulon"
NOMINEE = "person:nominee"  # created by case A's document, stated by the pool as well
TRUST = "company:quillfeather-trust"  # a holder of the shared DE that only case A states
NL = "iban:NL91ABNA0417164300"
SECRETS = (
    "CASEA-",
    "Zebulon",
    "person:zebulon",
    "Quillfeather",
    "quillfeather",
    "GB29NWBK",
    "DE88370400",
)
CASE_A = {
    "reference": "COMPART-A",
    "title": "case A",
    "kind": "criminal_investigation",
    "jurisdiction": "DE",
    "predicate_offences": ["fraud"],
    "lead_agency": "BKA",
}


@dataclass
class World:
    case_id: int
    lead: dict[str, str]
    admin: dict[str, str]
    documents: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)


def key_id(session: Session, secret: str) -> str:
    found = apikey_service.principal_for(session, secret)
    assert found is not None
    return found.id


def _post(client: TestClient, url: str, body: dict[str, Any], key: dict[str, str]) -> Any:
    r = client.post(url, json=body, headers=key)
    assert r.status_code in (200, 201), r.text
    return r.json()


def source(reference: str, case_id: int | None = None) -> dict[str, Any]:
    return {"kind": "bank_statement", "reference": reference, "case_id": case_id}


def build(client: TestClient, session: Session) -> World:
    lead_secret = make_key(session, Role.INVESTIGATOR, name="lead of A")
    lead, admin = bearer(lead_secret), bearer(make_key(session, Role.ADMIN, name="admin"))
    case = _post(client, "/api/v1/cases", CASE_A, lead)
    world = World(case_id=case["id"], lead=lead, admin=admin)
    a = world.case_id
    people = {"kind": "person", "country": "DE"}
    _post(
        client,
        "/api/v1/accounts/batch",
        {
            "source": source("SHARED-PARTIES"),
            "parties": [{"key": "person:common", "name": "Common Person", **people}],
            "accounts": [{"key": DE, "holders": [{"party": "person:common"}]}],
        },
        lead,
    )
    shared = _post(
        client,
        "/api/v1/transactions/batch",
        {
            "source": source("SHARED-1"),
            "transactions": [
                tx("S-1", DE, FR, "100.00"),
                tx("S-2", DE, FR, "40.00", value_time="2026-01-06T10:00:00Z"),
            ],
        },
        lead,
    )
    filed = _post(
        client,
        "/api/v1/accounts/batch",
        {
            "source": source("CASEA-PARTIES", a),
            "parties": [{"key": ZEBULON, "name": "Zebulon Quillfeather", **people}],
            "accounts": [
                {"key": GB, "institution": "Quillfeather Bank", "holders": [{"party": ZEBULON}]},
                {"key": DE, "holders": [{"party": ZEBULON}]},
            ],
        },
        lead,
    )
    moved = _post(
        client,
        "/api/v1/transactions/batch",
        {
            "source": source("CASEA-1", a),
            "account_check": "warn",
            "transactions": [
                tx("CASEA-1", GB, DE, "5000.00", narrative="quillfeather consignment"),
                tx("CASEA-2", DE, FR, "40.00", value_time="2026-01-06T10:00:00Z"),
                tx("CASEA-4", BAD, GB, "7.00", narrative="quillfeather fee"),
                tx("CASEA-5", GB, FR, "12.00", narrative="quillfeather commission"),
            ],
        },
        lead,
    )
    corrected = _post(
        client,
        "/api/v1/transactions/CASEA-5/corrections",
        {
            "source": source("CASEA-CORRECTION", a),
            "reason": "quillfeather's bank letter",
            "transaction": tx("CASEA-3", GB, FR, "12.50", narrative="quillfeather corrected"),
        },
        lead,
    )
    world.documents = [
        filed["source_document_id"],
        moved["source_document_id"],
        corrected["versions"][-1]["transaction"]["source_document_id"],
    ]
    assert shared["source_document_id"] not in world.documents
    read = client.get("/api/v1/transactions/CASEA-1", headers=lead).json()
    world.ids = {
        "transaction": read["id"],
        "account": client.get(f"/api/v1/accounts/{GB}", headers=lead).json()["id"],
        "party": client.get(f"/api/v1/parties/{ZEBULON}", headers=lead).json()["id"],
    }
    return world


def add_member(
    client: TestClient, world: World, api_key_id: str, role: str, case: "CaseB | None" = None
) -> None:
    """Put a key on case A (or on `case`, by its lead)."""
    r = client.put(
        f"/api/v1/cases/{world.case_id if case is None else case.case_id}/members",
        json={"api_key_id": api_key_id, "role": role},
        headers=world.lead if case is None else case.lead,
    )
    assert r.status_code in (200, 201), r.text


@dataclass
class CaseB:
    """Case B, led by `lead`, on records case A stated things of. `NOMINEE` was created by case
    A's document (its row holds A's name) and the pool names it too; case A states `TRUST` and
    `ZEBULON` as holders of the shared DE. In case B: a real-estate asset `NOMINEE` owns, the
    lead's trace of B's payment CASEB-1 into DE (over the pool and B) with its freezing
    proposal (an asset on DE), the subjects `NOMINEE` and DE, and case A's lead's (a member of
    B too) trace filed in B over A's payments CASEA-1 and CASEA-4 (taint held at DE, FR and GB,
    which only A knows): it read A's compartment, so B's other members may not see it, and its
    proposal into B is refused. A's lead then names A's account, party and transactions in
    writes into B's objects (`_write_case_a_into_b`), which find none of them.
    """

    case_id: int
    lead: dict[str, str]
    assets: list[int]
    traces: list[str]  # the lead's, then A's lead's (which B's other members may not see)
    a_transactions: list[int]  # the ids of case A's payments


def grow(client: TestClient, session: Session, world: World) -> CaseB:
    a, people = world.case_id, {"kind": "person", "country": "DE"}
    owners = {
        "source": source("CASEA-OWNERS", a),
        "parties": [
            {"key": NOMINEE, "name": "Quillfeather Nominee", **people},
            {"key": TRUST, "name": "Quillfeather Trust", "kind": "legal_entity"},
        ],
        "accounts": [{"key": DE, "holders": [{"party": TRUST}]}],
    }
    _post(client, "/api/v1/accounts/batch", owners, world.lead)
    pool = {
        "source": source("SHARED-OWNERS"),
        "parties": [{"key": NOMINEE, "name": "Nominee Person", **people}],
        "accounts": [{"key": FR, "holders": [{"party": NOMINEE}]}],
    }
    _post(client, "/api/v1/accounts/batch", pool, world.lead)
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead of B"))
    b = _post(client, "/api/v1/cases", {**CASE_A, "reference": "COMPART-B", "title": "B"}, lead)
    case_b = CaseB(case_id=b["id"], lead=lead, assets=[], traces=[], a_transactions=[])
    b_id = case_b.case_id
    accounts = {
        "source": source("B-PARTIES", b_id),
        "accounts": [{"key": NL, "holders": [{"party": NOMINEE}]}],
    }
    _post(client, "/api/v1/accounts/batch", accounts, lead)
    paid = [tx("CASEB-1", NL, DE, "300.00", value_time="2026-02-01T10:00:00Z")]
    _post(
        client,
        "/api/v1/transactions/batch",
        {"source": source("B-1", b_id), "transactions": paid},
        lead,
    )
    house = {
        "type": "real_estate",
        "description": "Flat in Hamburg",
        "address": "Hafenstraße 12, 20359 Hamburg",
        "owners": [{"party": NOMINEE, "share_percent": "50"}],
    }
    case_b.assets.append(_post(client, f"/api/v1/cases/{b_id}/assets", house, lead)["id"])
    for subject in ({"party": NOMINEE, "role": "suspect"}, {"account": DE, "role": "mule"}):
        _post(client, f"/api/v1/cases/{b_id}/subjects", subject, lead)
    add_member(
        client,
        world,
        key_id(session, world.lead["Authorization"].removeprefix("Bearer ")),
        "investigator",
        case_b,
    )
    for key, seeds in ((lead, ["CASEB-1"]), (world.lead, ["CASEA-1", "CASEA-4"])):
        body = {"seeds": [{"transaction": s} for s in seeds], "rule": "fifo", "case_id": b_id}
        trace = _post(client, "/api/v1/traces", body, key)["id"]
        case_b.traces.append(trace)
        # A's lead's proposal is refused (409): its figures come from A's flows.
        made = client.post(f"/api/v1/traces/{trace}/proposals", json={"case_id": b_id}, headers=key)
        if made.status_code in (200, 201):
            case_b.assets += [c["asset_id"] for c in made.json()["created"]]
    _write_case_a_into_b(client, world, case_b)
    for external_id in ("CASEA-1", "CASEA-2", "CASEA-3", "CASEA-4"):
        read = client.get(f"/api/v1/transactions/{external_id}", headers=world.lead)
        case_b.a_transactions.append(read.json()["id"])
    return case_b


def _write_case_a_into_b(client: TestClient, world: World, b: CaseB) -> None:
    """A's lead, on B too, names A's records in writes into B's objects: each is refused as a
    record that does not exist (an asset made all the same joins B's assets, which the matrix
    reads)."""
    balance = {
        "type": "bank_balance",
        "description": "balance",
        "valuation": {"amount": "10.00", "currency": "EUR", "valued_on": "2026-04-29"},
    }
    made = [
        {**balance, "account": GB},
        {**balance, "account": DE, "owners": [{"party": ZEBULON}]},
        {**balance, "account": DE, "links": [{"transaction": "CASEA-1"}]},
    ]
    for body in made:
        r = client.post(f"/api/v1/cases/{b.case_id}/assets", json=body, headers=world.lead)
        if r.status_code == 201:
            b.assets.append(r.json()["id"])
    links = {"links": [{"transaction": "CASEA-4"}]}
    client.post(f"/api/v1/assets/{b.assets[0]}/links", json=links, headers=world.lead)
    for subject in ({"party": ZEBULON}, {"account": GB}):
        body = {**subject, "role": "suspect"}
        client.post(f"/api/v1/cases/{b.case_id}/subjects", json=body, headers=world.lead)
