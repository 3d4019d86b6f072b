"""Expiry arithmetic, the deadline list, and the sweep in all three of its forms."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import migrate
from app.cli import main
from app.db import make_engine
from app.main import create_app
from app.measure.deadlines import (
    DurationUnit,
    UnknownCalendar,
    add_working_days,
    expiry,
    renew_by,
)
from app.principal import Role
from app.settings import Settings, get_settings
from tests.app.casework import Api, criminal_case, order
from tests.conftest import fresh_database
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


@pytest.mark.parametrize(
    ("decided", "days", "country", "last_day"),
    [
        # Labour Day (Fri 1 May 2026) is a public holiday in Germany, not in the US.
        (date(2026, 4, 30), 5, "DE", date(2026, 5, 8)),
        (date(2026, 4, 30), 5, "US", date(2026, 5, 7)),
        # The early May bank holiday (Mon 4 May 2026) in the United Kingdom.
        (date(2026, 4, 29), 5, "GB", date(2026, 5, 7)),
        # A Saturday decision: counting starts on Monday.
        (date(2026, 3, 7), 1, "FR", date(2026, 3, 9)),
        # Christmas and Boxing Day in Germany, then the weekend.
        (date(2026, 12, 23), 3, "DE", date(2026, 12, 29)),
    ],
)
def test_working_days_skip_weekends_and_the_jurisdictions_holidays(
    decided: date, days: int, country: str, last_day: date
) -> None:
    assert add_working_days(decided, days, country) == last_day
    # UTC as the stated zone: the end of the last day is midnight UTC.
    found = expiry(decided, days, DurationUnit.WORKING_DAYS, country, ZoneInfo("UTC"))
    assert (found.last_day, found.ends_at) == (
        last_day,
        datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC),
    )


def test_calendar_days_hours_and_the_renew_by_date() -> None:
    london, berlin = ZoneInfo("Europe/London"), ZoneInfo("Europe/Berlin")
    found = expiry(date(2026, 5, 1), 31, DurationUnit.CALENDAR_DAYS, "GB", london)
    assert found.last_day == date(2026, 6, 1)
    received = datetime(2026, 5, 29, 16, 30, tzinfo=UTC)
    found = expiry(date(2026, 5, 29), 48, DurationUnit.HOURS, "DE", berlin, decided_at=received)
    assert (found.last_day, found.ends_at) == (
        date(2026, 5, 31),
        datetime(2026, 5, 31, 16, 30, tzinfo=UTC),
    )
    # Two working days before Friday 8 May: Wednesday 6 May.
    assert renew_by(date(2026, 5, 8), "DE") == date(2026, 5, 6)
    with pytest.raises(UnknownCalendar):
        add_working_days(date(2026, 5, 1), 3, "XX")


def test_deadlines_list_the_soonest_first_with_their_renew_by_date(
    client: TestClient, session: Session
) -> None:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    case = api.post("/api/v1/cases", criminal_case())
    today = datetime.now(UTC).date()
    ids = []
    for days in (20, 5, 60):
        asset = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)
        last = (today + timedelta(days=days)).isoformat()
        assert api.move(asset["id"], order("FROZEN", expiry_date=last)).status_code == 201
        ids.append(asset["id"])
    soon = api.get("/api/v1/deadlines", within_days=30)["items"]
    assert [d["asset_id"] for d in soon] == [ids[1], ids[0]]
    first = soon[0]
    assert first["expiry_date"] == (today + timedelta(days=5)).isoformat()
    assert first["renew_by"] < first["expiry_date"]
    assert (first["status"], first["measure_type"], first["lapsed"]) == ("FROZEN", "freeze", False)
    page = api.get("/api/v1/deadlines", within_days=90, limit=2)
    rest = api.get("/api/v1/deadlines", within_days=90, cursor=page["next_cursor"])
    assert [d["asset_id"] for d in page["items"] + rest["items"]] == [ids[1], ids[0], ids[2]]
    assert rest["next_cursor"] is None


def _lapsed_freeze(url: str, settings: Settings) -> tuple[str, int]:
    """A committed case with one frozen asset whose freeze ended yesterday."""
    engine = make_engine(url)
    with Session(engine) as s:
        key = bearer(make_key(s, Role.INVESTIGATOR))
    engine.dispose()
    app = create_app(settings.model_copy(update={"database_url": url}))
    with TestClient(app) as client:
        api = Api(client, key)
        case = api.post("/api/v1/cases", criminal_case())
        asset = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        assert api.move(asset["id"], order("FROZEN", expiry_date=yesterday)).status_code == 201
    return key["Authorization"], asset["id"]


def test_the_service_sweeps_lapsed_measures_when_it_starts(
    tmp_path: Path, settings: Settings
) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        authorization, asset_id = _lapsed_freeze(url, settings)
        running = settings.model_copy(update={"database_url": url, "deadline_sweep_enabled": True})
        with TestClient(create_app(running)) as client:
            headers = {"Authorization": authorization}
            asset = client.get(f"/api/v1/assets/{asset_id}", headers=headers).json()
            assert asset["status"] == "EXPIRED"
            history = client.get(f"/api/v1/assets/{asset_id}/measures", headers=headers).json()
            assert [m["to_status"] for m in history["items"]] == [
                "IDENTIFIED",
                "FROZEN",
                "EXPIRED",
            ]


def test_moneytrail_deadlines_sweep(
    tmp_path: Path, settings: Settings, monkeypatch, capsys
) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        _, asset_id = _lapsed_freeze(url, settings)
        monkeypatch.setenv("MONEYTRAIL_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            assert main(["deadlines", "sweep"]) == 0
            assert main(["deadlines", "sweep"]) == 0
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr().out.splitlines()
        # What each lapse became, by asset, with the event recorded; then the counts.
        assert re.fullmatch(rf"asset {asset_id}: FROZEN -> EXPIRED \(lapse event \d+\)", out[-3])
        assert out[-2:] == [
            "1 lapsed measure(s): 1 EXPIRED, 0 RELEASED",
            "0 lapsed measure(s): 0 EXPIRED, 0 RELEASED",
        ]


def test_an_appeal_window_is_a_deadline_the_sweep_leaves_alone(
    client: TestClient, session: Session
) -> None:
    api = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    case = api.post("/api/v1/cases", criminal_case())
    asset = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)["id"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert api.move(asset, order("FROZEN")).status_code == 201
    window = order("CONFISCATION_ORDERED", expiry_date=yesterday, note="appeal window")
    assert api.move(asset, window).status_code == 201
    (deadline,) = api.get("/api/v1/deadlines", within_days=0)["items"]
    assert (deadline["status"], deadline["lapsed"], deadline["lapses_to_expired"]) == (
        "CONFISCATION_ORDERED",
        True,
        False,
    )
    assert api.post("/api/v1/deadlines/sweep", {}, status=200)["expired"] == []
    assert api.get(f"/api/v1/assets/{asset}")["status"] == "CONFISCATION_ORDERED"
    analyst = bearer(make_key(session, Role.ANALYST))
    assert client.post("/api/v1/deadlines/sweep", headers=analyst).status_code == 403


def test_a_lapsed_suspension_releases_the_funds_as_an_event(
    client: TestClient, session: Session
) -> None:
    # LEGAL row 5: a postponement that ran out with no order is RELEASED (expired_no_order).
    api = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    case = api.post("/api/v1/cases", criminal_case())
    asset = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    suspend = order("SUSPENDED", expiry_date=yesterday)
    assert api.move(asset["id"], suspend).status_code == 201
    swept = api.post("/api/v1/deadlines/sweep", {}, status=200)
    assert len(swept["expired"]) == 1
    assert swept["lapses"] == [
        {
            "measure_id": swept["expired"][0],
            "asset_id": asset["id"],
            "from_status": "SUSPENDED",
            "to_status": "RELEASED",
        }
    ]
    history = api.get(f"/api/v1/assets/{asset['id']}/measures")["items"]
    last = history[-1]
    assert (last["from_status"], last["to_status"], last["release_reason"]) == (
        "SUSPENDED",
        "RELEASED",
        "expired_no_order",
    )
    assert api.get(f"/api/v1/assets/{asset['id']}")["status"] == "RELEASED"
