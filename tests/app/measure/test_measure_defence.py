"""What a defence lawyer would check in the legal life of an asset (issue 20): deadlines in the
jurisdiction's own time, regional calendars, urgent seizures and challenges to freezes and
seizures. Everything goes through the HTTP API."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import Api, criminal_case, order
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


def _asset(client: TestClient, session: Session, **case: object) -> tuple[Api, int]:
    api = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    case_id = api.post("/api/v1/cases", criminal_case(**case))["id"]
    return api, api.post(f"/api/v1/cases/{case_id}/assets", CASH)["id"]


def _loc(r) -> list[object]:
    assert r.status_code == 422, r.text
    return r.json()["errors"][0]["loc"]


def test_a_48_hour_suspension_is_renewed_by_an_hour_after_its_decision(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session, jurisdiction="CY")
    suspension = {
        **order("SUSPENDED", issuing_authority="MOKAS", legal_basis="Law 188(I)/2007 s.84"),
        "decision_date": None,
        "decided_at": "2026-12-04T16:30:00+02:00",
        "duration": {"value": 48, "unit": "hours"},
    }
    r = api.move(asset, {k: v for k, v in suspension.items() if v is not None})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["expires_at"] == "2026-12-06T14:30:00Z"
    # Not 2026-12-03, a day before the decision: a day before the expiry, as a time.
    assert (m["renew_by"], m["renew_by_at"]) == ("2026-12-05", "2026-12-05T14:30:00Z")
    assert api.get(f"/api/v1/assets/{asset}")["renew_by_at"] == "2026-12-05T14:30:00Z"
    # An order naming a renew-by date before its decision is refused.
    early = {**order("FROZEN", expiry_date="2026-06-30"), "renew_by": "2026-05-01"}
    assert _loc(api.move(asset, early)) == ["body", "renew_by"]


def test_a_short_freeze_is_never_due_for_renewal_before_its_decision(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session)
    # Decided Wednesday 6 May, last day Thursday 7 May: two working days back is the 5th.
    r = api.move(asset, order("FROZEN", expiry_date="2026-05-07"))
    assert r.status_code == 201, r.text
    assert (r.json()["renew_by"], r.json()["renew_by_at"]) == (
        "2026-05-06",
        "2026-05-06T22:00:00Z",
    )


def test_a_day_measure_lapses_at_the_end_of_its_day_in_the_jurisdictions_zone(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session)
    winter = api.move(asset, order("FROZEN", expiry_date="2027-01-05")).json()
    assert winter["expires_at"] == "2027-01-05T23:00:00Z"  # CET, not midnight UTC
    summer = api.move(asset, order("FROZEN", expiry_date="2026-07-31")).json()
    assert summer["expires_at"] == "2026-07-31T22:00:00Z"  # CEST: daylight saving counts
    # A measure may state another zone; a jurisdiction with several zones must.
    abroad = order(
        "FROZEN", jurisdiction="US", executing_authority="SDNY", expiry_date="2027-01-05"
    )
    assert _loc(api.move(asset, abroad)) == ["body", "time_zone"]
    assert _loc(api.move(asset, {**abroad, "time_zone": "Mars/Olympus"})) == ["body", "time_zone"]
    r = api.move(asset, {**abroad, "time_zone": "America/New_York"})
    assert r.status_code == 201, r.text
    assert (r.json()["expires_at"], r.json()["time_zone"]) == (
        "2027-01-06T05:00:00Z",
        "America/New_York",
    )
    (deadline,) = api.get("/api/v1/deadlines", within_days=3660)["items"]
    assert deadline["expires_at"] == "2027-01-06T05:00:00Z"


def test_a_bavarian_measure_skips_bavarian_holidays(client: TestClient, session: Session) -> None:
    api, asset = _asset(client, session, jurisdiction="DE-BY")
    assert api.get(f"/api/v1/assets/{asset}")["jurisdiction"] == "DE-BY"
    one_day = {"value": 1, "unit": "working_days"}
    # Tuesday 5 Jan 2027; Epiphany (the 6th) is a holiday in Bavaria, not in all of Germany.
    bavaria = api.move(asset, order("SUSPENDED", decision_date="2027-01-05", duration=one_day))
    assert bavaria.status_code == 201, bavaria.text
    assert (bavaria.json()["jurisdiction"], bavaria.json()["expiry_date"]) == (
        "DE-BY",
        "2027-01-07",
    )
    # A federal order for a Bavarian case is not one executed abroad.
    federal = order("FROZEN", jurisdiction="DE", decision_date="2027-01-05", duration=one_day)
    r = api.move(asset, federal)
    assert r.status_code == 201, r.text
    assert (r.json()["expiry_date"], r.json()["expires_at"]) == (
        "2027-01-06",
        "2027-01-06T23:00:00Z",
    )
    nowhere = order("FROZEN", jurisdiction="DE-XX", duration=one_day)
    assert _loc(api.move(asset, nowhere)) == ["body", "jurisdiction"]


def test_an_urgent_seizure_needs_no_freeze_where_the_basis_allows_it(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session)
    border = order("SEIZED", custodian="Zoll Hamburg", legal_basis=None)
    assert _loc(api.move(asset, {k: v for k, v in border.items() if v})) == ["body", "legal_basis"]
    wrong = order("SEIZED", measure_type="seizure", legal_basis="StPO § 98(1) Gefahr im Verzug")
    assert _loc(api.move(asset, wrong)) == ["body", "measure_type"]
    urgent = order("SEIZED", legal_basis="StPO § 98(1) Gefahr im Verzug", expiry_date="2026-05-09")
    r = api.move(asset, urgent)
    assert r.status_code == 201, r.text
    assert (r.json()["from_status"], r.json()["measure_type"]) == ("IDENTIFIED", "urgent_seizure")
    assert api.get(f"/api/v1/assets/{asset}")["status"] == "SEIZED"
    # Only a seizure with no freeze before it is urgent.
    _, frozen = _asset(client, session, reference="BKA-2026-0002")
    assert api.move(frozen, order("FROZEN")).status_code == 201
    late = order("SEIZED", measure_type="urgent_seizure")
    assert _loc(api.move(frozen, late)) == ["body", "measure_type"]


def test_a_freeze_is_challenged_dismissed_and_then_set_aside(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session)
    assert api.move(asset, order("FROZEN", expiry_date="2026-11-06")).status_code == 201
    challenge = order(
        "FROZEN",
        measure_type="challenge",
        order_reference="LG-HH 612 Qs 3/26",
        issuing_authority="Landgericht Hamburg",
        decision_date="2026-05-20",
    )
    lodged = api.move(asset, challenge)
    assert lodged.status_code == 201, lodged.text
    # The freeze stays in force and its deadline keeps running.
    assert (lodged.json()["to_status"], lodged.json()["expiry_date"]) == ("FROZEN", "2026-11-06")
    assert _loc(api.move(asset, challenge)) == ["body", "measure_type"]  # one is pending
    dismissed = api.move(asset, {**challenge, "measure_type": "challenge_dismissed"})
    assert (dismissed.status_code, dismissed.json()["expiry_date"]) == (201, "2026-11-06")
    assert api.get(f"/api/v1/assets/{asset}")["status"] == "FROZEN"
    again = {**challenge, "measure_type": "challenge_dismissed"}
    assert _loc(api.move(asset, again)) == ["body", "measure_type"]  # nothing pending
    assert api.move(asset, {**challenge, "order_reference": "OLG-HH 2 Ws 9/26"}).status_code == 201
    upheld = {
        "to_status": "RELEASED",
        "measure_type": "challenge_upheld",
        "release_reason": "set_aside_on_challenge",
        "order_reference": "OLG-HH 2 Ws 9/26",
    }
    assert _loc(api.move(asset, {**upheld, "release_reason": "withdrawn"})) == [
        "body",
        "release_reason",
    ]
    r = api.move(asset, upheld)
    assert (r.status_code, r.json()["measure_type"]) == (201, "challenge_upheld")
    assert api.get(f"/api/v1/assets/{asset}")["status"] == "RELEASED"


def test_a_challenged_seizure_still_lapses_and_a_confiscation_order_is_appealed(
    client: TestClient, session: Session
) -> None:
    api, asset = _asset(client, session)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert api.move(asset, order("FROZEN")).status_code == 201
    assert api.move(asset, order("SEIZED", expiry_date=yesterday)).status_code == 201
    challenge = order("SEIZED", measure_type="challenge", order_reference="AG-HH 1 Gs 5/26")
    r = api.move(asset, challenge)
    assert (r.status_code, r.json()["expiry_date"]) == (201, yesterday)
    assert len(api.post("/api/v1/deadlines/sweep", {}, status=200)["expired"]) == 1
    assert api.get(f"/api/v1/assets/{asset}")["status"] == "EXPIRED"
    _, other = _asset(client, session, reference="BKA-2026-0003")
    assert api.move(other, order("FROZEN")).status_code == 201
    assert api.move(other, order("CONFISCATION_ORDERED")).status_code == 201
    appeal = order("UNDER_APPEAL", measure_type="challenge")
    assert _loc(api.move(other, appeal)) == ["body", "measure_type"]
