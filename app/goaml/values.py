"""goAML values as its schemas define them: `sql_date` (xs:dateTime), `swift`, names."""

import re
from dataclasses import dataclass
from datetime import datetime

# xs:dateTime lexically: a 'T' between date and time, any number of fraction digits, an optional
# zone. .NET and SQL Server write seven fraction digits (datetime2), birthdates nine.
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$"
)
MAX_FRACTION_DIGITS = 9
BIC = re.compile(r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
SWIFT_MAX = 11  # both FIUs' XSDs: 1..11 characters (a BIC, or e.g. a 4-digit LankaClear code)


@dataclass(frozen=True, slots=True)
class SqlDate:
    value: datetime  # naive when the report gives no zone: the profile's zone applies
    truncated: str | None = None  # digits beyond the microsecond that were not zero


def sql_date(written: str) -> SqlDate | str:
    """The date-time, or why `written` is not one goAML accepts."""
    m = _DATE_TIME.match(written)
    if m is None:
        return "is not an xs:dateTime such as 2026-05-24T14:30:00"
    fraction = m.group(7) or ""
    if len(fraction) > MAX_FRACTION_DIGITS:
        return f"has {len(fraction)} fraction digits; at most {MAX_FRACTION_DIGITS} are read"
    kept, beyond = fraction[:6], fraction[6:]
    iso = f"{written[:19]}.{kept.ljust(6, '0')}{(m.group(8) or '').replace('Z', '+00:00')}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return "is not a calendar date-time"
    return SqlDate(parsed, beyond if beyond.strip("0") else None)


def without_zero_places(amount: str, places: int | None) -> str:
    """`30100.0000` in a 2-decimal currency is 30100.00: zeros beyond its minor unit say nothing
    and are dropped; a non-zero digit there stays, for the ledger to refuse."""
    whole, dot, fraction = amount.partition(".")
    if not dot or places is None or len(fraction) <= places or fraction[places:].strip("0"):
        return amount
    return f"{whole}.{fraction[:places]}" if places else whole


def same_name(a: str, b: str) -> bool:
    """Names that differ only in case or spacing are the same as written by two systems."""
    return a.casefold().split() == b.casefold().split()
