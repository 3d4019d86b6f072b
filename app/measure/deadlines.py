"""Expiry of time-limited measures: calendar days, working days (with the public holidays of the
jurisdiction, a country or an ISO 3166-2 subdivision, from the `holidays` package) or hours,
counted from the decision.

A measure counted in days holds to the end of its last day in the jurisdiction's own time zone
(daylight saving included): a German freeze whose last day is 5 January lapses at
2027-01-05T23:00Z, not at midnight UTC. The jurisdiction implies the zone; a measure may state
another (an order of a court in another zone, a country that spans several).
"""

import importlib.resources
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays


class DurationUnit(StrEnum):
    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"


class UnknownCalendar(ValueError):
    pass


class UnknownZone(ValueError):
    pass


# How many working days before the expiry a renewal should be asked for, unless the order says.
RENEW_LEAD_WORKING_DAYS = 2
# For a measure counted in hours: a day before the expiry, at most half of its life, and never
# before the decision (a 48-hour suspension decided at 16:30 is renewed by 16:30 the next day).
RENEW_LEAD_HOURS = timedelta(hours=24)

# Where zone.tab lists several zones for a country, the one its courts keep; a subdivision with
# its own zone is listed apart. Others with several (US, CA, AU, RU, BR ...) state the zone.
PRINCIPAL_ZONES = {
    "CY": "Asia/Nicosia",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "ES-CN": "Atlantic/Canary",
    "PT": "Europe/Lisbon",
    "PT-20": "Atlantic/Azores",
    "PT-30": "Atlantic/Madeira",
}


def country_of(jurisdiction: str) -> str:
    return jurisdiction.split("-", 1)[0]


@lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    # zone.tab of the `tzdata` package: one line per (country, zone), the same on every host.
    text = (importlib.resources.files("tzdata.zoneinfo") / "zone.tab").read_text()
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            found.setdefault(country, []).append(zone)
    return {c: tuple(z) for c, z in found.items()}


def zone_of(jurisdiction: str, stated: str | None = None) -> ZoneInfo:
    """The time zone a measure's days are counted in: the one it states, else its
    jurisdiction's (the subdivision's, else the country's)."""
    if stated is not None:
        return _zone(stated)
    name = PRINCIPAL_ZONES.get(jurisdiction) or PRINCIPAL_ZONES.get(country_of(jurisdiction))
    if name is None:
        zones = _zones_by_country().get(country_of(jurisdiction), ())
        if not zones:
            raise UnknownCalendar(f"no country is known for jurisdiction {jurisdiction!r}")
        if len(zones) > 1:
            raise UnknownZone(
                f"{jurisdiction} spans {len(zones)} time zones: state the measure's time_zone"
            )
        name = zones[0]
    return _zone(name)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path, not a name
        raise UnknownZone(f"{name!r} is not an IANA time zone") from None


@lru_cache(maxsize=128)
def _calendar(jurisdiction: str) -> holidays.HolidayBase:
    country, _, subdivision = jurisdiction.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UnknownCalendar(f"no public-holiday calendar for jurisdiction {jurisdiction!r}")
    if subdivision and subdivision not in supported[country]:
        raise UnknownCalendar(
            f"no public-holiday calendar for subdivision {jurisdiction!r}; "
            f"{country} has: {', '.join(supported[country]) or 'none'}"
        )
    return holidays.country_holidays(country, subdiv=subdivision or None)


def is_working_day(day: date, jurisdiction: str) -> bool:
    return day.weekday() < 5 and day not in _calendar(jurisdiction)


def add_working_days(start: date, days: int, jurisdiction: str) -> date:
    """The `days`-th working day after `start` (the decision day itself is never counted);
    a negative count goes back."""
    step = 1 if days >= 0 else -1
    day, left = start, abs(days)
    while left:
        day += timedelta(days=step)
        if is_working_day(day, jurisdiction):
            left -= 1
    return day


@dataclass(frozen=True, slots=True)
class Deadline:
    last_day: date  # the last day the measure holds, in its zone
    ends_at: datetime  # the first instant (UTC) it no longer does
    renew_by: date  # in its zone
    renew_by_at: datetime  # the instant (UTC) a renewal must be asked for


def end_of(last_day: date, zone: tzinfo) -> datetime:
    """The first instant after `last_day` in `zone`, in UTC."""
    return datetime.combine(last_day + timedelta(days=1), time(), zone).astimezone(UTC)


def due_until(within_days: int, now: datetime) -> datetime:
    """The end of a deadline list's horizon: the last instant of the day `within_days` after
    `now`'s (0: today), in UTC."""
    return end_of(now.date() + timedelta(days=within_days), UTC)


def expiry(
    decided_on: date,
    value: int,
    unit: DurationUnit,
    jurisdiction: str,
    zone: ZoneInfo,
    *,
    decided_at: datetime | None = None,
) -> Deadline:
    """When a measure of `value` `unit`s decided on `decided_on` (at `decided_at`) lapses."""
    if unit is DurationUnit.HOURS:
        start = decided_at or datetime.combine(decided_on, time(), zone)
        ends = (start + timedelta(hours=value)).astimezone(UTC)
        lead = min(RENEW_LEAD_HOURS, (ends - start) / 2)
        renew_at = (ends - lead).astimezone(UTC)
        return Deadline(
            ends.astimezone(zone).date(), ends, renew_at.astimezone(zone).date(), renew_at
        )
    if unit is DurationUnit.WORKING_DAYS:
        last = add_working_days(decided_on, value, jurisdiction)
    else:
        last = decided_on + timedelta(days=value)
    return until(last, decided_on, jurisdiction, zone)


def until(last_day: date, decided_on: date | None, jurisdiction: str, zone: ZoneInfo) -> Deadline:
    """The deadline of a measure that holds to the end of `last_day`."""
    renew = renew_by(last_day, jurisdiction)
    if decided_on is not None:
        renew = max(renew, decided_on)  # a renewal is never due before the decision
    return Deadline(last_day, end_of(last_day, zone), renew, end_of(renew, zone))


def renew_by(last_day: date, jurisdiction: str) -> date:
    try:
        return add_working_days(last_day, -RENEW_LEAD_WORKING_DAYS, jurisdiction)
    except UnknownCalendar:
        return last_day - timedelta(days=RENEW_LEAD_WORKING_DAYS)
