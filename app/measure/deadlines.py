"""Expiry of time-limited measures: calendar days, working days (with the jurisdiction's public
holidays from the `holidays` package) or hours, counted from the decision."""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

import holidays


class DurationUnit(StrEnum):
    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"
    HOURS = "hours"


class UnknownCalendar(ValueError):
    pass


# How many working days before the expiry a renewal should be asked for, unless the order says.
RENEW_LEAD_WORKING_DAYS = 2


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase:
    if country not in holidays.list_supported_countries():
        raise UnknownCalendar(f"no public-holiday calendar for jurisdiction {country!r}")
    return holidays.country_holidays(country)


def is_working_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _calendar(country)


def add_working_days(start: date, days: int, country: str) -> date:
    """The `days`-th working day after `start` (the decision day itself is never counted);
    a negative count goes back."""
    step = 1 if days >= 0 else -1
    day, left = start, abs(days)
    while left:
        day += timedelta(days=step)
        if is_working_day(day, country):
            left -= 1
    return day


def expiry(
    decided_on: date,
    value: int,
    unit: DurationUnit,
    country: str,
    *,
    decided_at: datetime | None = None,
) -> tuple[date, datetime]:
    """The last day the measure holds, and the first instant (UTC) it no longer does.

    A measure counted in days holds to the end of its last day; the jurisdiction's local
    midnight is approximated by midnight UTC.
    """
    if unit is DurationUnit.HOURS:
        start = decided_at or datetime.combine(decided_on, time(), UTC)
        ends = (start + timedelta(hours=value)).astimezone(UTC)
        return ends.date(), ends
    if unit is DurationUnit.WORKING_DAYS:
        last = add_working_days(decided_on, value, country)
    else:
        last = decided_on + timedelta(days=value)
    return last, datetime.combine(last + timedelta(days=1), time(), UTC)


def end_of(last_day: date) -> datetime:
    return datetime.combine(last_day + timedelta(days=1), time(), UTC)


def renew_by(last_day: date, country: str) -> date:
    try:
        return add_working_days(last_day, -RENEW_LEAD_WORKING_DAYS, country)
    except UnknownCalendar:
        return last_day - timedelta(days=RENEW_LEAD_WORKING_DAYS)
