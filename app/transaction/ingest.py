"""Check a batch of transaction rows as a whole and turn it into exact, typed columns.

Every rule is a Polars expression over all rows at once, so a million-row upload is checked
without a Python object per row; every failing row is reported, by number and field.
"""

from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from app.account.keys import key_error, normalised
from app.account.numbers import AccountCheck, number_faults
from app.errors import BatchRejected, InvalidInput
from app.inputs import text_fault
from app.money import currency_decimals
from app.transaction.models import CASE_MARK

REQUIRED = ("external_id", "from_account", "to_account", "amount", "currency", "value_time")
OPTIONAL = ("sequence", "channel", "narrative", "counterparty_name", "counterparty_account")
COLUMNS = REQUIRED + OPTIONAL
TEXT_LIMITS = {
    "external_id": 200,
    "channel": 50,
    "narrative": 2000,
    "counterparty_name": 500,
    "counterparty_account": 300,
}
YEAR_RANGE = (1900, 2100)
# 18 digits of minor units always fit a signed 64-bit integer.
MAX_MINOR_DIGITS = 18
_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_ISO_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
# Offsets run from -23:59 to +23:59 (RFC 3339, and what Python and PostgreSQL can hold).
_OFFSET_IN_RANGE = r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
_LEAP_SECOND = r"^[^T ]+[T ][0-9]{2}:[0-9]{2}:60"


class MissingColumns(InvalidInput):
    code, title = "missing_columns", "Missing columns"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"the upload lacks required column(s): {', '.join(missing)}",
            missing=missing,
            required=list(REQUIRED),
            optional=list(OPTIONAL),
        )


def check_timezone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown timezone '{name}'", field="timezone") from exc
    return name


def _readable(name: str, dtype: pl.DataType) -> None:
    """Refuse a typed (Parquet) column whose values have no one exact text form."""
    if dtype.is_float():
        raise InvalidInput(
            f"column {name} holds floating-point numbers, which are not exact: "
            "send decimals or text",
            field=name,
        )
    # A list or struct would be stored as its rendering ("{1}"), a boolean as "true", and
    # bytes need not be text at all: each cell must be one plain value.
    plain = dtype.is_integer() or dtype.is_decimal() or isinstance(dtype, pl.Datetime)
    if not (plain or dtype in (pl.String, pl.Categorical, pl.Enum, pl.Date, pl.Null)):
        raise InvalidInput(
            f"column {name} holds {dtype} values: each cell must be one text, whole-number, "
            "decimal or date-time value",
            field=name,
            dtype=str(dtype),
        )


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every known column as trimmed text (empty means absent); typed Parquet columns too."""
    if missing := [c for c in REQUIRED if c not in frame.columns]:
        raise MissingColumns(missing)
    exprs = []
    for name in COLUMNS:
        if name not in frame.columns:
            exprs.append(pl.lit(None, pl.String).alias(name))
            continue
        dtype = frame.schema[name]
        _readable(name, dtype)
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.6f" + ("%:z" if dtype.time_zone else "")
            col = col.dt.strftime(fmt)
        exprs.append(col.cast(pl.String).str.strip_chars().replace("", None).alias(name))
    return frame.select(exprs)


def _amount_parts() -> list[pl.Expr]:
    amount = pl.col("amount")
    return [
        amount.str.extract(r"^([0-9]+)", 1).alias("#whole"),
        amount.str.extract(r"\.([0-9]+)$", 1).fill_null("").alias("#fraction"),
        amount.str.contains(_DECIMAL).alias("#amount_ok"),
    ]


def _amount_checks() -> tuple[pl.Expr, pl.Expr]:
    """Minor units and the amount's fault, over the columns of `_amount_parts`."""
    decimals, whole, fraction = pl.col("#decimals"), pl.col("#whole"), pl.col("#fraction")
    ok = pl.col("#amount_ok")
    places = fraction.str.len_chars().cast(pl.Int64)
    digits = whole.str.strip_chars_start("0").str.len_chars() + decimals
    minor = (
        pl.when(ok & (places <= decimals) & (digits <= MAX_MINOR_DIGITS))
        .then(pl.concat_str([whole, fraction.str.pad_end(decimals.cast(pl.UInt32), "0")]))
        .cast(pl.Int64, strict=False)
    )
    error = (
        pl.when(pl.col("amount").str.starts_with("-"))
        .then(pl.lit("must be positive"))
        .when(~ok)
        .then(pl.lit("not an exact decimal number such as 1500.00"))
        .when(decimals.is_null())
        .then(None)
        .when(places > decimals)
        .then(pl.format("has {} decimals; {} allows {}", places, pl.col("currency"), decimals))
        .when(digits > MAX_MINOR_DIGITS)
        .then(pl.lit("too large"))
        .when(pl.col("#amount_minor") == 0)
        .then(pl.lit("must be positive"))
    )
    return minor, error


def _time_parts() -> list[pl.Expr]:
    text = pl.col("value_time")
    local = (
        text.str.replace(_OFFSET, "")
        .str.replace(" ", "T")
        .str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})$", "${1}T00:00")
        .str.replace(r"T([0-9]{2}:[0-9]{2})$", "T${1}:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
    )
    return [
        text.str.contains(_ISO_TIME).alias("#time_shaped"),
        text.str.extract(_OFFSET, 1).alias("#offset"),
        local.alias("#local"),
    ]


def _time_checks(timezone: str | None) -> tuple[pl.Expr, pl.Expr]:
    """The UTC instant and the time's fault, over the columns of `_time_parts`."""
    offset, local = pl.col("#offset"), pl.col("#local")
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    digits = offset.str.replace_all(r"[^0-9]", "")
    minutes = sign * (
        digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
        + digits.str.slice(2, 2).cast(pl.Int64, strict=False)
    )
    with_offset = (local - pl.duration(minutes=minutes.fill_null(0))).dt.replace_time_zone("UTC")
    if timezone is None:
        in_zone = pl.lit(None, pl.Datetime("us", "UTC"))
    else:
        in_zone = local.dt.replace_time_zone(
            timezone, ambiguous="null", non_existent="null"
        ).dt.convert_time_zone("UTC")
    utc = pl.when(offset.is_not_null()).then(with_offset).otherwise(in_zone)
    year = pl.col("#value_time").dt.year()
    text = pl.col("value_time")
    error = (
        pl.when(text.str.contains(_LEAP_SECOND))
        .then(pl.lit("is a leap second (:60), which no stored time can hold: give :59 or :00"))
        .when(~pl.col("#time_shaped"))
        .then(pl.lit("not an ISO 8601 date-time such as 2026-01-05T10:00:00Z"))
        .when(offset.is_not_null() & ~text.str.contains(_OFFSET_IN_RANGE))
        .then(pl.format("has the offset {}, outside -23:59..+23:59", offset))
        .when(local.is_null())
        .then(pl.lit("not a valid calendar date-time"))
        .when(offset.is_null() & pl.lit(timezone is None))
        .then(pl.lit("has no timezone: add Z or an offset, or state the upload's timezone"))
        .when(pl.col("#value_time").is_null())
        .then(pl.lit(f"does not exist or is ambiguous in {timezone}"))
        .when((year < YEAR_RANGE[0]) | (year > YEAR_RANGE[1]))
        .then(pl.lit(f"outside the years {YEAR_RANGE[0]}..{YEAR_RANGE[1]}"))
    )
    return utc, error


def _errors_of(
    checked: pl.DataFrame, fields: list[str], limit: int, first_row: int
) -> tuple[list[dict[str, object]], int]:
    long = (
        checked.with_row_index("row", offset=first_row)
        .select("row", *[pl.col(f"!{f}").alias(f) for f in fields])
        .filter(pl.any_horizontal(pl.col(fields).is_not_null()))
        .unpivot(index="row", variable_name="field", value_name="msg")
        .drop_nulls("msg")
        .sort("row", pl.col("field").replace_strict({f: i for i, f in enumerate(fields)}))
    )
    return long.head(limit).to_dicts(), long.height


def _keys_of(text: pl.DataFrame) -> list[pl.Expr]:
    """Normal form and fault of each account key, worked out once per distinct key (a batch
    names far fewer accounts than it has rows) and mapped back onto the rows."""
    raw = pl.concat([text["from_account"], text["to_account"]]).unique().to_frame("raw")
    keyed = raw.select(
        "raw", normalised(pl.col("raw")).alias("key"), key_error(pl.col("raw")).alias("error")
    )
    usable = keyed.select(pl.when(pl.col("error").is_null()).then(pl.col("key")))["key"]
    known = keyed.select(
        "raw",
        pl.struct(
            "key",
            "error",
            pl.Series("number", number_faults(usable.to_list()), dtype=pl.String),
        ).alias("found"),
    )
    return [
        pl.col(f"{side}_account")
        .replace_strict(known["raw"], known["found"])
        .struct.unnest()
        .name.prefix(f"#{side}_")
        for side in ("from", "to")
    ]


def _rules(timezone: str | None, account_check: AccountCheck) -> list[pl.Expr]:
    """One `!field` column per checked field: the row's fault there, or null."""
    required = {f"!{f}": pl.col(f).is_null() for f in REQUIRED}

    def rule(field: str, error: pl.Expr) -> pl.Expr:
        return (
            pl.when(required.get(f"!{field}", pl.lit(False)))
            .then(pl.lit("required"))
            .otherwise(pl.coalesce(text_fault(pl.col(field)), error))
            .alias(f"!{field}")
        )

    too_long = {
        f: pl.when(pl.col(f).str.len_chars() > n).then(pl.lit(f"longer than {n} characters"))
        for f, n in TEXT_LIMITS.items()
    }
    # `warn` lets numbers that fail their scheme's check through (the accounts are flagged).
    refuse = account_check is AccountCheck.REFUSE
    from_error, to_error = (
        pl.coalesce(pl.col(f"#{side}_error"), pl.col(f"#{side}_number"))
        if refuse
        else pl.col(f"#{side}_error")
        for side in ("from", "to")
    )
    return [
        rule(
            "external_id",
            too_long["external_id"]
            .when(pl.col("external_id").is_duplicated())
            .then(pl.lit("appears more than once in this batch"))
            .when(pl.col("external_id").str.contains(CASE_MARK, literal=True))
            .then(pl.lit(f"holds {CASE_MARK!r}, which names a case's records (reserved)")),
        ),
        rule("from_account", from_error),
        rule(
            "to_account",
            pl.when(to_error.is_not_null())
            .then(to_error)
            .when(pl.col("#from_key") == pl.col("#to_key"))
            .then(pl.lit("the same account as from_account")),
        ),
        rule("amount", _amount_checks()[1]),
        rule(
            "currency",
            pl.when(pl.col("#decimals").is_null()).then(
                pl.format(
                    "unknown currency '{}' (ISO 4217 or a listed crypto asset)", pl.col("currency")
                )
            ),
        ),
        rule("value_time", _time_checks(timezone)[1]),
        rule(
            "sequence",
            pl.when(~pl.col("sequence").str.contains(r"^[0-9]{1,18}$")).then(
                pl.lit("must be a whole number, 0 or more")
            ),
        ),
        *[rule(f, too_long[f]) for f in TEXT_LIMITS if f != "external_id"],
    ]


def validate_transactions(
    raw: pl.DataFrame,
    *,
    timezone: str | None,
    max_errors: int,
    decimals_by_currency: Mapping[str, int] | None = None,
    rows_label: str = "row",
    first_row: int = 1,
    account_check: AccountCheck = AccountCheck.REFUSE,
) -> pl.DataFrame:
    """Typed rows (normalised keys, minor units, UTC) or `BatchRejected` listing every fault."""
    text = as_text(raw)
    timezone = check_timezone(timezone)
    table = dict(decimals_by_currency or currency_decimals())
    currency = pl.col("currency").str.to_uppercase()
    # Staged so that what several rules and the output share (keys, minor units, UTC times) is
    # computed once: `#` columns are intermediate, `!` columns hold each field's fault.
    checked = (
        text.lazy()
        .with_columns(currency.alias("currency"))
        .with_columns(
            *_keys_of(text),
            currency.replace_strict(table, default=None, return_dtype=pl.Int64).alias("#decimals"),
            *_amount_parts(),
            *_time_parts(),
        )
        .with_columns(
            _amount_checks()[0].alias("#amount_minor"),
            _time_checks(timezone)[0].alias("#value_time"),
        )
        .with_columns(_rules(timezone, account_check))
        .collect()
    )
    fields = [c[1:] for c in checked.columns if c.startswith("!")]
    errors, total = _errors_of(checked, fields, max_errors, first_row)
    if total:
        raise BatchRejected(
            [
                {"loc": [rows_label, e["row"], e["field"]], **e, "type": "value_error"}
                for e in errors
            ],
            total=total,
            rows_label=rows_label,
        )
    return checked.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_no"),
        "external_id",
        pl.col("#from_key").alias("from_key"),
        pl.col("#to_key").alias("to_key"),
        pl.col("#amount_minor").alias("amount_minor"),
        "currency",
        pl.col("#value_time").alias("value_time"),
        pl.col("sequence").cast(pl.Int64),
        *OPTIONAL[1:],
    )
