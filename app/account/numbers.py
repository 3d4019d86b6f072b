"""Whether an account number is one its scheme could have issued: checksums and formats.

IBANs (country length, check digits), BICs (format and country) and Bitcoin addresses
(base58check, bech32/bech32m) are checked by python-stdnum; Ethereum addresses written in mixed
case carry the EIP-55 checksum, checked here over Keccak-256 from pycryptodome. Schemes without
a checksum (cash, cards, plain account numbers, other chains) are not checked.
"""

import re
from collections.abc import Callable, Iterable
from enum import StrEnum

from Crypto.Hash import keccak
from stdnum import bic, bitcoin, iban
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

INVALID_NUMBER = "invalid_number"
_ETHEREUM = re.compile(r"^0x[0-9a-fA-F]{40}$")
# bank:<institution>/<number>: the institution is checked as a BIC when it has a BIC's shape
# (4-letter bank code, 2-letter country); a national bank code is not a BIC and is left alone.
_BIC_SHAPED = re.compile(r"^[A-Za-z]{6}[A-Za-z0-9]{2}([A-Za-z0-9]{3})?$")


class AccountCheck(StrEnum):
    """What a batch does with an account number that fails its scheme's check."""

    REFUSE = "refuse"
    WARN = "warn"


ACCOUNT_CHECK_HELP = (
    "`refuse`: an account number failing its scheme's check (IBAN check digits, BIC format, "
    "Bitcoin or EIP-55 checksum) refuses the batch; `warn`: it is stored and the account "
    "flagged `invalid_number`."
)


def _iban_fault(body: str) -> str | None:
    try:
        iban.validate(body)
    except InvalidChecksum:
        return "not a valid IBAN: the check digits do not match"
    except InvalidLength:
        return "not a valid IBAN: wrong length for its country"
    except ValidationError:
        return "not a valid IBAN: does not follow its country's format"
    return None


def bic_fault(value: str) -> str | None:
    """Why `value` is no BIC, or None."""
    try:
        bic.validate(value)
    except ValidationError:
        return "not a valid BIC (4-letter bank code, ISO country, location, optional branch)"
    return None


def _bank_fault(body: str) -> str | None:
    institution, _, _ = body.partition("/")
    return bic_fault(institution.upper()) if _BIC_SHAPED.match(institution) else None


def _bitcoin_fault(body: str) -> str | None:
    try:
        bitcoin.validate(body)
    except ValidationError:
        return "not a valid Bitcoin address (base58check or bech32 checksum fails)"
    return None


def eip55(address: str) -> str:
    """The EIP-55 mixed-case checksum form of a 0x-prefixed Ethereum address."""
    digits = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=digits.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(digits)
    )


def _ethereum_fault(body: str) -> str | None:
    if not _ETHEREUM.match(body):
        return "not an Ethereum address (0x and 40 hexadecimal digits)"
    digits = body[2:]
    # All lower or all upper case carries no checksum (EIP-55); mixed case must match it.
    if digits != digits.lower() and digits != digits.upper() and eip55(body) != body:
        return "not a valid Ethereum address: the EIP-55 mixed-case checksum does not match"
    return None


_CHECKS: dict[str, Callable[[str], str | None]] = {
    "iban": _iban_fault,
    "bank": _bank_fault,
    "btc": _bitcoin_fault,
    "eth": _ethereum_fault,
}


def number_fault(key: str) -> str | None:
    """Why the number in a normalised account key fails its scheme's check, or None."""
    scheme, _, body = key.partition(":")
    check = _CHECKS.get(scheme)
    return check(body) if check is not None else None


def number_faults(keys: Iterable[str | None]) -> list[str | None]:
    """`number_fault` of each key (None stays None)."""
    return [None if k is None else number_fault(k) for k in keys]
