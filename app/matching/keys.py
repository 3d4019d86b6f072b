"""What is matched, normalised so that two compartments' spellings of one key meet.

- `account`: the account key as stored, already normalised by `app.account.keys` at ingest
  (scheme lower case, IBAN in machine form ...).
- `identifier`: a party's identity number under its scheme (`national_id:L01X00T47`), without
  spaces, dashes, dots or slashes, upper case; dates of birth and addresses are not identities.
- `name`: a party's name folded as search folds it (`app.party.names`: Latin letters, lower
  case, accents and script away) with its words sorted, so "Berg, Anna" meets "ANNA BERG". A
  name of one word ("Acme") matches too many strangers to signal anything and is left out.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.party.names import tokens

ACCOUNT, IDENTIFIER, NAME = "account", "identifier", "name"
KINDS = (ACCOUNT, IDENTIFIER, NAME)
NOT_IDENTITIES = {"birth_date", "date_of_birth", "dob", "address"}
_SEPARATORS = re.compile(r"[\s\-./]")
MIN_IDENTIFIER = 4


def identifier_keys(identifiers: Mapping[str, Any] | None) -> set[str]:
    keys = set()
    for scheme, value in (identifiers or {}).items():
        scheme = str(scheme).strip().lower()
        number = _SEPARATORS.sub("", str(value or "")).upper()
        if scheme not in NOT_IDENTITIES and len(number) >= MIN_IDENTIFIER:
            keys.add(f"{scheme}:{number}")
    return keys


def name_key(name: str | None) -> str | None:
    words = sorted(set(tokens(name or "")))
    return " ".join(words) if len(words) >= 2 else None


def party_keys(name: str | None, identifiers: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """The (kind, normalised key) pairs one party is matched on."""
    found = {(IDENTIFIER, k) for k in identifier_keys(identifiers)}
    if (named := name_key(name)) is not None:
        found.add((NAME, named))
    return found


def account_keys(keys: Iterable[str]) -> set[tuple[str, str]]:
    return {(ACCOUNT, k) for k in keys if k}
