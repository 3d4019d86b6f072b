"""Currencies and their minor units: amounts are stored as integers of the smallest unit."""

from decimal import Decimal
from functools import cache

from iso4217 import Currency

# The one way money is written (exact, integer arithmetic): the engine's, so a trace and the
# service write every amount alike.
from tracing import format_minor

# Crypto assets have no ISO 4217 code. Each is kept to the precision at which investigators'
# sources (exchange responses, block explorers) report it and which fits a signed 64-bit count
# of minor units; ETH and SOL are therefore kept to the gwei/lamport (9 decimals).
CRYPTO_DECIMALS: dict[str, int] = {
    "BTC": 8,
    "BCH": 8,
    "LTC": 8,
    "DOGE": 8,
    "ETH": 9,
    "SOL": 9,
    "XMR": 12,
    "TRX": 6,
    "XRP": 6,
    "USDT": 6,
    "USDC": 6,
}


# Withdrawn ISO 4217 codes (list three) that exports still carry: a Ghanaian bank's goAML CTR
# of 2023 states amounts in GHC, withdrawn in 2007. The ledger can hold them, with ISO's minor
# units; which are accepted from a report is each importer's (an FIU profile's) decision.
WITHDRAWN_DECIMALS: dict[str, int] = {
    "BYR": 0,
    "EEK": 2,
    "GHC": 2,
    "HRK": 2,
    "LTL": 2,
    "LVL": 2,
    "MRO": 2,
    "SLL": 2,
    "STD": 2,
    "VEF": 2,
    "ZMK": 2,
    "ZWL": 2,
}


@cache
def currency_decimals() -> dict[str, int]:
    """Every currency code the ledger can hold, with its decimals (ISO 4217, crypto, withdrawn)."""
    fiat = {c.code: c.exponent for c in Currency if c.exponent is not None}
    withdrawn = {c: d for c, d in WITHDRAWN_DECIMALS.items() if c not in fiat}
    return {**fiat, **CRYPTO_DECIMALS, **withdrawn}


@cache
def current_currencies() -> frozenset[str]:
    """Codes in use today: ISO 4217 and the listed crypto assets, not withdrawn codes."""
    return frozenset(currency_decimals()) - frozenset(WITHDRAWN_DECIMALS)


def decimals_of(currency: str) -> int | None:
    return currency_decimals().get(currency)


def to_minor(amount: Decimal, currency: str) -> int:
    decimals = currency_decimals()[currency]
    minor = amount.scaleb(decimals)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} ({decimals})")
    return int(minor)


def from_minor(minor: int, currency: str) -> str:
    """The exact decimal string of `minor` units, with the currency's decimals shown."""
    return format_minor(minor, currency_decimals()[currency])


def decimal_text(value: Decimal, currency: str) -> str:
    """An exact amount in the currency's decimals, as `format_minor` writes it; an amount finer
    than the currency allows, or in a currency without known decimals, is written exactly as it
    is (never rounded)."""
    decimals = decimals_of(currency)
    if decimals is not None:
        minor = value.scaleb(decimals)
        if minor == minor.to_integral_value():
            return format_minor(int(minor), decimals)
    # format "f": str() writes exponents for small values ("5E-8" for five satoshi).
    return format(value.normalize(), "f")
