"""Account keys (`iban:DE89...`, `btc:bc1q...`): one set of rules, applied as Polars expressions.

The same expressions normalise a single key from a URL and a million keys in an upload, so the
two can never disagree about what a key means.
"""

from enum import StrEnum

import polars as pl

from app.account.numbers import INVALID_NUMBER, number_faults
from app.memo import BoundedCache


class AccountKind(StrEnum):
    BANK = "bank"
    CRYPTO_WALLET = "crypto_wallet"
    CASH = "cash"
    CARD = "card"
    E_MONEY = "e_money"
    EXTERNAL = "external"


CRYPTO_CHAINS: dict[str, str] = {
    "btc": "bitcoin",
    "bch": "bitcoin-cash",
    "ltc": "litecoin",
    "doge": "dogecoin",
    "eth": "ethereum",
    "sol": "solana",
    "xmr": "monero",
    "trx": "tron",
    "xrp": "ripple",
}
SCHEME_KINDS: dict[str, AccountKind] = {
    "iban": AccountKind.BANK,
    # bank:<BIC or institution code>/<account number>, for accounts without an IBAN
    "bank": AccountKind.BANK,
    "acct": AccountKind.BANK,
    "card": AccountKind.CARD,
    "cash": AccountKind.CASH,
    "emoney": AccountKind.E_MONEY,
    "ext": AccountKind.EXTERNAL,
    **dict.fromkeys(CRYPTO_CHAINS, AccountKind.CRYPTO_WALLET),
}
KEY_MAX_LENGTH = 300
_IBAN = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"


def _parts(key: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    scheme = key.str.extract(r"^([A-Za-z]+):", 1).str.to_lowercase()
    body = key.str.replace(r"^[A-Za-z]+:", "").str.strip_chars()
    # IBANs are printed in groups of four; the key keeps the machine form.
    body = (
        pl.when(scheme == "iban")
        .then(body.str.replace_all(" ", "").str.to_uppercase())
        .otherwise(body)
    )
    return scheme, body


def normalised(key: pl.Expr) -> pl.Expr:
    scheme, body = _parts(key)
    return pl.concat_str([scheme, pl.lit(":"), body])


def key_error(key: pl.Expr) -> pl.Expr:
    """The reason a key is unusable, or null when it is fine."""
    scheme, body = _parts(key)
    known = ", ".join(sorted(SCHEME_KINDS))
    # An IBAN pasted without its scheme is the commonest slip: name the key that was meant.
    bare = key.str.replace_all(" ", "").str.to_uppercase()
    return (
        pl.when(scheme.is_null() & bare.str.contains(_IBAN))
        .then(pl.format("not an account key: did you mean iban:{}?", bare))
        .when(scheme.is_null())
        .then(
            pl.lit("not an account key: write scheme:identifier, e.g. iban:DE89... or btc:bc1q...")
        )
        .when(~scheme.is_in(list(SCHEME_KINDS)))
        .then(pl.format("unknown account key scheme '{}' (known: " + known + ")", scheme))
        .when(body.str.len_chars() == 0)
        .then(pl.lit("the account key has no identifier after the scheme"))
        .when(key.str.len_chars() > KEY_MAX_LENGTH)
        .then(pl.lit(f"longer than {KEY_MAX_LENGTH} characters"))
        .when((scheme == "iban") & ~body.str.contains(_IBAN))
        .then(pl.lit("not an IBAN (country code, 2 check digits, 11 to 30 letters or digits)"))
        .otherwise(None)
    )


def account_attributes(keys: pl.Series) -> pl.DataFrame:
    """Columns for accounts first seen only as a key: kind, what the key itself tells, and the
    flag of a number that fails its scheme's check."""
    scheme = pl.col("key").str.extract(r"^([a-z]+):", 1)
    body = pl.col("key").str.replace(r"^[a-z]+:", "")
    crypto = scheme.is_in(list(CRYPTO_CHAINS))
    frame = pl.DataFrame({"key": keys}).select(
        "key",
        scheme.replace_strict({k: str(v) for k, v in SCHEME_KINDS.items()}).alias("kind"),
        pl.when(scheme == "iban").then(body).alias("iban"),
        pl.when(scheme.is_in(["bank", "acct", "card", "emoney"])).then(body).alias("number"),
        pl.when(crypto).then(scheme.replace_strict(CRYPTO_CHAINS, default=None)).alias("chain"),
        pl.when(crypto).then(body).alias("address"),
        pl.when(scheme == "ext").then(body).alias("name"),
    )
    # A key is refused at validation unless its batch said `account_check: warn`: a number that
    # reaches here failing its scheme's check was let through on purpose, and is flagged.
    faults = pl.Series("fault", number_faults(keys.to_list()), dtype=pl.String)
    return frame.with_columns(
        pl.when(faults.is_not_null()).then(pl.lit(INVALID_NUMBER)).alias("number_flag")
    )


def _key_bytes(key: str, value: str | None) -> int:
    return len(key) + len(value or "")


# A key in a URL or a seed is normalised on every request that names it; the answer never
# changes, so it is kept (bounded: `key_cache_entries`, `key_cache_bytes` in app.settings).
NORMALISED = BoundedCache[str, str | None](
    max_entries=10_000, max_bytes=4 * 1024 * 1024, size_of=_key_bytes
)


def normalise_key(key: str) -> str | None:
    """One key in canonical form, or None when it is not a valid key."""
    return NORMALISED.get_or_compute(key, _normalise)


def _normalise(key: str) -> str | None:
    row = pl.DataFrame({"k": [key]}).select(
        normalised(pl.col("k")).alias("key"), key_error(pl.col("k")).alias("error")
    )
    return None if row["error"][0] is not None else str(row["key"][0])
