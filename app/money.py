"""Currencies and their minor units: amounts are stored as integers of the smallest unit."""

from decimal import Decimal
from functools import cache

from iso4217 import Currency

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


@cache
def currency_decimals() -> dict[str, int]:
    """Every accepted currency code with its number of decimals (ISO 4217 then crypto)."""
    fiat = {c.code: c.exponent for c in Currency if c.exponent is not None}
    return {**fiat, **CRYPTO_DECIMALS}


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
    decimals = currency_decimals()[currency]
    # format "f": str() writes exponents for small values ("5E-8" for five satoshi).
    return format(Decimal(minor).scaleb(-decimals).quantize(Decimal(1).scaleb(-decimals)), "f")
