"""How alike two parties are: each kind of evidence scored apart, with the reason it gives.

Names are folded before they are compared: transliterated to Latin letters (anyascii: Cyrillic,
Greek, Arabic ... come out as their usual romanisation), lower-cased, punctuation dropped, and
compared with token order free (rapidfuzz's token sort ratio), so "Berg, Anna", "ANNA BERG" and
"Анна Берг" are one name. The weights add evidence up to a score in [0, 1]; a different birth
date or kind of party counts against.
"""

import re
from dataclasses import dataclass
from typing import Any

from anyascii import anyascii
from rapidfuzz import fuzz

NAME_WEIGHT = 0.5
IDENTIFIER_WEIGHT = 0.3
BIRTH_DATE_WEIGHT = 0.15
BIRTH_DATE_CONFLICT = -0.3
SHARED_ACCOUNT_WEIGHT = 0.15
ADDRESS_WEIGHT = 0.1
# Names less alike than this give no reason (and no score) on their own.
NAME_FLOOR = 0.7
ADDRESS_FLOOR = 0.9
BIRTH_DATE_KEYS = ("birth_date", "date_of_birth", "dob")
ADDRESS_KEYS = ("address",)
_NOT_NUMBERS = {*BIRTH_DATE_KEYS, *ADDRESS_KEYS}
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def fold(name: str) -> str:
    """A name as compared: Latin letters, lower case, single spaces, no punctuation."""
    latin = anyascii(name).lower()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", latin)).strip()


def _number(value: str) -> str:
    return re.sub(r"[\s\-./]", "", str(value)).upper()


@dataclass(frozen=True, slots=True)
class Profile:
    """What is compared of one party."""

    id: int
    key: str
    kind: str
    name: str
    identifiers: dict[str, Any]
    accounts: frozenset[str]

    @property
    def folded(self) -> str:
        return fold(self.name)

    def first(self, keys: tuple[str, ...]) -> str | None:
        for k in keys:
            if self.identifiers.get(k):
                return str(self.identifiers[k])
        return None

    @property
    def numbers(self) -> dict[str, str]:
        return {k: _number(v) for k, v in self.identifiers.items() if k not in _NOT_NUMBERS and v}


def name_similarity(a: str, b: str) -> float:
    return round(fuzz.token_sort_ratio(fold(a), fold(b)) / 100, 2)


def compare(party: Profile, other: Profile) -> tuple[float, list[dict[str, Any]]]:
    """The score of `other` being `party`, and the reasons, strongest first."""
    if party.kind != other.kind:
        return 0.0, []
    reasons: list[dict[str, Any]] = []
    similarity = name_similarity(party.name, other.name)
    if similarity >= NAME_FLOOR:
        reasons.append(
            {
                "kind": "name",
                "weight": round(NAME_WEIGHT * similarity, 2),
                "detail": f"names alike ({similarity:.2f}): {party.folded!r} ~ {other.folded!r}",
            }
        )
    shared_numbers = sorted(
        f"{k}={v}" for k, v in party.numbers.items() if v in other.numbers.values()
    )
    if shared_numbers:
        reasons.append(
            {
                "kind": "identifier",
                "weight": IDENTIFIER_WEIGHT,
                "detail": "same identity number: " + ", ".join(shared_numbers),
            }
        )
    born, other_born = party.first(BIRTH_DATE_KEYS), other.first(BIRTH_DATE_KEYS)
    if born and other_born:
        same = born == other_born
        reasons.append(
            {
                "kind": "birth_date",
                "weight": BIRTH_DATE_WEIGHT if same else BIRTH_DATE_CONFLICT,
                "detail": f"same birth date {born}"
                if same
                else f"different birth dates {born} and {other_born}",
            }
        )
    if shared := sorted(party.accounts & other.accounts):
        reasons.append(
            {
                "kind": "shared_account",
                "weight": SHARED_ACCOUNT_WEIGHT,
                "detail": "both hold " + ", ".join(shared),
            }
        )
    address, other_address = party.first(ADDRESS_KEYS), other.first(ADDRESS_KEYS)
    if address and other_address and name_similarity(address, other_address) >= ADDRESS_FLOOR:
        reasons.append(
            {"kind": "address", "weight": ADDRESS_WEIGHT, "detail": f"same address {address}"}
        )
    score = min(1.0, max(0.0, sum(r["weight"] for r in reasons)))
    reasons.sort(key=lambda r: -r["weight"])
    return round(score, 2), reasons
