"""Which codes an FIU accepts: goAML code lists differ from one FIU to the next.

Codes are kept as the report gives them and checked against a profile. The default profile holds
the generic goAML 5.0.1 lists where they are fixed (report and submission types) and accepts any
code where each FIU defines its own (funds, conduction, indicators). An FIU's own profile is a
JSON file named by the `MONEYTRAIL_GOAML_PROFILE` setting.
"""

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from app.errors import InvalidInput
from app.examples import example
from app.money import currency_decimals, current_currencies
from app.settings import Settings

GENERIC_REPORT_CODES = frozenset(
    {"AIF", "CTR", "ECTR", "ICR", "IRD", "IRF", "M", "PEP", "SAR", "STR", "STRM", "TFR", "-"}
)


class PartySide(StrEnum):
    FROM = "from"
    TO = "to"
    OTHER = "other"


# Multi-party transactions carry no direction, only a role from the FIU's party_role list.
DEFAULT_PARTY_ROLES: dict[str, PartySide] = {
    "payer": PartySide.FROM,
    "sender": PartySide.FROM,
    "originator": PartySide.FROM,
    "beneficiary": PartySide.TO,
    "receiver": PartySide.TO,
    "payee": PartySide.TO,
    "agent": PartySide.OTHER,
    "intermediary": PartySide.OTHER,
}


class GoamlProfile(BaseModel):
    """An FIU's goAML code lists; a list left out (null) accepts any code."""

    model_config = example(
        {
            "name": "fiu-example-5.0.2",
            "timezone": "Asia/Dubai",
            "report_codes": ["STR", "SAR", "DPMSR"],
            "transmode_codes": ["CASH", "SWIFT", "ATM", "INTRN"],
            "party_roles": {"PAYER": "from", "BENEF": "to", "AGENT": "other"},
            "currency_codes": ["GHS", "GHC", "USD", "EUR"],
            "require_bic": False,
        },
        frozen=True,
        extra="forbid",
    )

    name: str = Field(default="goaml-5.0.1-generic", max_length=50)
    timezone: str | None = Field(
        default=None,
        description="IANA zone of the report's dates (goAML dates carry none); "
        "null: the `goaml_timezone` setting.",
    )
    report_codes: frozenset[str] | None = GENERIC_REPORT_CODES
    submission_codes: frozenset[str] | None = frozenset({"E", "M"})
    transmode_codes: frozenset[str] | None = None
    funds_codes: frozenset[str] | None = None
    indicator_codes: frozenset[str] | None = None
    currency_codes: frozenset[str] | None = Field(
        default=None,
        description="Currencies the FIU's reports may state; null: every code in use today "
        "(ISO 4217, listed crypto assets). May name withdrawn ISO 4217 codes the ledger knows.",
    )
    require_bic: bool = Field(
        default=False,
        description="Refuse a <swift> that is not a BIC; the goAML XSDs take any 1-11 characters.",
    )
    party_roles: dict[str, PartySide] = Field(default_factory=lambda: dict(DEFAULT_PARTY_ROLES))
    xsd: Path | None = Field(
        default=None, description="An XSD (1.0) every report must also satisfy, e.g. the FIU's."
    )

    @field_validator("currency_codes")
    @classmethod
    def _ledger_holds(cls, codes: frozenset[str] | None) -> frozenset[str] | None:
        # Amounts are kept in minor units: a code without known decimals could not be stored.
        if codes is not None and (unknown := sorted(codes - set(currency_decimals()))):
            raise ValueError(f"currencies without known minor units: {', '.join(unknown)}")
        return codes


def accepted_currencies(profile: GoamlProfile) -> frozenset[str]:
    return current_currencies() if profile.currency_codes is None else profile.currency_codes


class InvalidProfile(InvalidInput):
    status, code, title = 500, "invalid_goaml_profile", "Invalid goAML profile"


def load_profile(settings: Settings) -> GoamlProfile:
    if settings.goaml_profile is None:
        return GoamlProfile(timezone=settings.goaml_timezone)
    try:
        profile = GoamlProfile.model_validate(json.loads(settings.goaml_profile.read_text()))
    except (OSError, ValueError, ValidationError) as exc:
        raise InvalidProfile(
            f"the goAML profile {settings.goaml_profile} is unusable: {exc}"
        ) from exc
    if profile.timezone is None:
        profile = profile.model_copy(update={"timezone": settings.goaml_timezone})
    return profile
