from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.examples import example
from app.inputs import MAX_ID, Body, Remark, Text

JURISDICTION = Field(
    pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
    description="ISO 3166-1 alpha-2 country code, or an ISO 3166-2 subdivision "
    "(`DE-BY`: Bavaria, whose public holidays then count).",
    examples=["DE", "DE-BY"],
)


class CaseKind(StrEnum):
    CRIMINAL_INVESTIGATION = "criminal_investigation"
    PARALLEL_FINANCIAL_INVESTIGATION = "parallel_financial_investigation"
    FIU_ANALYSIS = "fiu_analysis"


class PredicateOffence(StrEnum):
    """Predicate offences of money laundering, after the FATF designated categories."""

    DRUG_TRAFFICKING = "drug_trafficking"
    TRAFFICKING_IN_HUMAN_BEINGS = "trafficking_in_human_beings"
    MIGRANT_SMUGGLING = "migrant_smuggling"
    WILDLIFE_CRIME = "wildlife_crime"
    FIREARMS_TRAFFICKING = "firearms_trafficking"
    CYBERCRIME = "cybercrime"
    FRAUD = "fraud"
    CORRUPTION = "corruption"
    TERRORIST_FINANCING = "terrorist_financing"
    COUNTERFEITING = "counterfeiting"
    ENVIRONMENTAL_CRIME = "environmental_crime"
    # FATF designated category: tax crimes related to direct and indirect taxes.
    TAX_CRIMES = "tax_crimes"
    MONEY_LAUNDERING = "money_laundering"
    OTHER = "other"


class CaseStatus(StrEnum):
    OPEN = "open"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    DISCONTINUED = "discontinued"


class DiscontinuationReason(StrEnum):
    DEATH = "death"
    FLIGHT = "flight"
    ABSENCE = "absence"
    IMMUNITY = "immunity"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    OTHER = "other"


class RecoveryBasis(StrEnum):
    CONVICTION_BASED = "conviction_based"
    NON_CONVICTION_BASED = "non_conviction_based"


class SubjectRole(StrEnum):
    SUSPECT = "suspect"
    BENEFICIAL_OWNER = "beneficial_owner"
    NOMINEE = "nominee"
    MULE = "mule"
    VICTIM = "victim"
    WITNESS = "witness"
    OTHER = "other"


class CaseRole(StrEnum):
    """A member's role on one case: leads manage members; analysts and observers only read."""

    LEAD = "lead"
    INVESTIGATOR = "investigator"
    ANALYST = "analyst"
    OBSERVER = "observer"


# What a case is opened with and read back as, in both examples.
_CASE_EXAMPLE: dict[str, Any] = {
    "reference": "BKA-2026-0417",
    "kind": "parallel_financial_investigation",
    "title": "Proceeds of the Hafen cocaine imports",
    "jurisdiction": "DE",
    "predicate_offences": ["drug_trafficking", "money_laundering"],
    "lead_agency": "Bundeskriminalamt SO 3",
    "opened_on": "2026-03-02",
    "parent_case_id": 1,
    "recovery_basis": "conviction_based",
}


class CaseCreate(Body):
    model_config = example(_CASE_EXAMPLE)

    reference: Text = Field(min_length=1, max_length=100, description="Unique case reference.")
    kind: CaseKind
    title: Text = Field(min_length=1, max_length=500)
    jurisdiction: str = JURISDICTION
    predicate_offences: list[PredicateOffence] = Field(default_factory=list)
    lead_agency: Text = Field(min_length=1, max_length=300)
    opened_on: date | None = Field(default=None, description="Defaults to today (UTC).")
    parent_case_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="For a parallel financial investigation: its criminal case.",
    )
    recovery_basis: RecoveryBasis | None = Field(
        default=None,
        description="Parallel financial investigations only; defaults to conviction_based.",
    )


class CaseRead(BaseModel):
    model_config = example(
        {
            "id": 2,
            **_CASE_EXAMPLE,
            "status": "open",
            "discontinuation_reason": None,
            "closed_on": None,
            "version": 1,
            "created_by": "3f9a0c1d2b4e5f60",
            "created_at": "2026-03-02T09:00:00Z",
            "updated_at": "2026-03-02T09:00:00Z",
            "allowed_statuses": ["active", "closed", "discontinued"],
        },
        from_attributes=True,
    )

    id: int
    reference: str
    kind: CaseKind
    title: str
    jurisdiction: str
    predicate_offences: list[PredicateOffence]
    lead_agency: str
    status: CaseStatus
    recovery_basis: RecoveryBasis | None
    discontinuation_reason: DiscontinuationReason | None = Field(examples=["death"])
    parent_case_id: int | None
    opened_on: date
    closed_on: date | None = Field(examples=["2027-01-15"])
    version: int = Field(description="Also sent as the ETag header.")
    created_by: str
    created_at: datetime
    updated_at: datetime
    allowed_statuses: list[CaseStatus] = Field(description="Statuses this case may move to now.")


class CaseStatusChange(Body):
    model_config = example(
        {
            "status": "discontinued",
            "reason": "The suspect died on 2026-05-20 (death certificate 114/2026).",
            "discontinuation_reason": "death",
        }
    )

    status: CaseStatus
    reason: Text | None = Field(
        default=None,
        max_length=2000,
        description="Why; required to reopen a closed or discontinued case and to discontinue.",
    )
    discontinuation_reason: DiscontinuationReason | None = Field(
        default=None, description="Required when the status is discontinued."
    )


class CaseEventRead(BaseModel):
    model_config = example(
        {
            "id": 4,
            "case_id": 1,
            "from_status": "closed",
            "to_status": "active",
            "reason": "New evidence: the 2026-06 production of Bank X",
            "actor_id": "3f9a0c1d2b4e5f60",
            "at": "2026-07-01T10:00:00Z",
        },
        from_attributes=True,
    )

    id: int
    case_id: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    reason: str | None
    actor_id: str | None
    at: datetime


class MemberCreate(Body):
    model_config = example({"api_key_id": "3f9a0c1d2b4e5f60", "role": "investigator"})

    api_key_id: str = Field(pattern=r"^[0-9a-f]{1,32}$", description="The member's API key id.")
    role: CaseRole


class MemberRead(BaseModel):
    model_config = example(
        {
            "case_id": 1,
            "api_key_id": "3f9a0c1d2b4e5f60",
            "role": "lead",
            "added_by": None,
            "added_at": "2026-03-02T09:00:00Z",
        },
        from_attributes=True,
    )

    case_id: int
    api_key_id: str
    role: CaseRole
    added_by: str | None = Field(examples=["9c1e2d3f4a5b6c7d"])
    added_at: datetime


class SubjectCreate(Body):
    model_config = example(
        {
            "party": "person:DE-ID-L01X00T47",
            "account": None,
            "role": "suspect",
            "note": "Organiser of the imports",
        }
    )

    party: Text | None = Field(default=None, description="A party's key or id.")
    account: Text | None = Field(
        default=None,
        description="An account's key or id.",
        examples=["iban:DE89370400440532013000"],
    )
    role: SubjectRole
    note: Remark = None


class SubjectRead(BaseModel):
    model_config = example(
        {
            "id": 3,
            "case_id": 1,
            "role": "suspect",
            "note": "Organiser of the imports",
            "party_id": 7,
            "party_key": "person:DE-ID-L01X00T47",
            "account_id": None,
            "account_key": None,
            "name": "Max Mustermann",
            "added_by": "3f9a0c1d2b4e5f60",
            "added_at": "2026-03-02T09:00:00Z",
        },
    )

    id: int
    case_id: int
    role: SubjectRole
    note: str | None
    party_id: int | None
    party_key: str | None
    account_id: int | None = Field(examples=[1])
    account_key: str | None = Field(examples=["iban:DE89370400440532013000"])
    name: str | None
    added_by: str
    added_at: datetime


class ConvergenceCase(BaseModel):
    case_id: int
    reference: str
    kind: CaseKind
    title: str
    predicate_offences: list[PredicateOffence]
    roles: list[str] = Field(
        description="Subject roles (suspect, mule ...), and asset_owner / asset_account where "
        "it owns an asset of the case or is the account of a bank balance in it."
    )


class ConvergenceRead(BaseModel):
    model_config = example(
        {
            "entity": "party",
            "id": 7,
            "key": "person:DE-ID-L01X00T47",
            "name": "Max Mustermann",
            "same_as": ["person:goaml-4711"],
            "cases": [
                {
                    "case_id": 1,
                    "reference": "BKA-2026-0001",
                    "kind": "criminal_investigation",
                    "title": "Hafen cocaine imports",
                    "predicate_offences": ["drug_trafficking"],
                    "roles": ["suspect"],
                },
                {
                    "case_id": 9,
                    "reference": "LKA-2026-0310",
                    "kind": "criminal_investigation",
                    "title": "Wildlife smuggling via Hamburg",
                    "predicate_offences": ["wildlife_crime"],
                    "roles": ["beneficial_owner"],
                },
            ],
        },
    )

    entity: str = Field(description="`party` or `account`.")
    id: int
    key: str
    name: str | None
    same_as: list[str] = Field(
        default_factory=list,
        description="Parties a person linked as one with this party, counted with it.",
    )
    cases: list[ConvergenceCase]
