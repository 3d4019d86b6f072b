from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AliasPath, BaseModel, ConfigDict, Field

from app.asset.machine import LegalStatus
from app.examples import example
from app.inputs import Body, Instant, Remark, Text
from app.measure.deadlines import DurationUnit


class MeasureType(StrEnum):
    """The legal act behind a move; defaults from the target status when not given."""

    IDENTIFICATION = "identification"
    TRACING = "tracing"
    FIU_SUSPENSION = "fiu_suspension"
    FREEZE = "freeze"
    RESTRAINT = "restraint"
    ACCOUNT_FREEZING_ORDER = "account_freezing_order"
    CRYPTO_WALLET_FREEZE = "crypto_wallet_freeze"
    FREEZING_CERTIFICATE = "freezing_certificate"
    SEIZURE = "seizure"
    URGENT_SEIZURE = "urgent_seizure"
    CONFISCATION = "confiscation"
    FORFEITURE = "forfeiture"
    APPEAL = "appeal"
    REALISATION = "realisation"
    DISPOSAL = "disposal"
    RELEASE = "release"
    EXPIRY = "expiry"
    DISSIPATION = "dissipation"
    INTERLOCUTORY_SALE = "interlocutory_sale"
    CHALLENGE = "challenge"
    CHALLENGE_DISMISSED = "challenge_dismissed"
    CHALLENGE_UPHELD = "challenge_upheld"


# A challenge against a freeze or a seizure: lodged and dismissed are moves to the same status
# (the measure stays in force, its deadline keeps running unless the order names another);
# upheld releases (set_aside_on_challenge).
CHALLENGE_TYPES = frozenset(
    {MeasureType.CHALLENGE, MeasureType.CHALLENGE_DISMISSED, MeasureType.CHALLENGE_UPHELD}
)


DEFAULT_TYPE: dict[LegalStatus, MeasureType] = {
    LegalStatus.IDENTIFIED: MeasureType.IDENTIFICATION,
    LegalStatus.TRACED: MeasureType.TRACING,
    LegalStatus.SUSPENDED: MeasureType.FIU_SUSPENSION,
    LegalStatus.FROZEN: MeasureType.FREEZE,
    LegalStatus.SEIZED: MeasureType.SEIZURE,
    LegalStatus.CONFISCATION_ORDERED: MeasureType.CONFISCATION,
    LegalStatus.UNDER_APPEAL: MeasureType.APPEAL,
    LegalStatus.CONFISCATED: MeasureType.CONFISCATION,
    LegalStatus.REALISED: MeasureType.REALISATION,
    LegalStatus.DISPOSED: MeasureType.DISPOSAL,
    LegalStatus.RELEASED: MeasureType.RELEASE,
    LegalStatus.EXPIRED: MeasureType.EXPIRY,
    LegalStatus.DISSIPATED: MeasureType.DISSIPATION,
    LegalStatus.SUBSTITUTED: MeasureType.INTERLOCUTORY_SALE,
}


class Basis(StrEnum):
    CONVICTION = "conviction"
    NON_CONVICTION_BASED = "non_conviction_based"
    EXTENDED = "extended"
    THIRD_PARTY = "third_party"
    CIVIL = "civil"


class DisposalKind(StrEnum):
    RETURNED_TO_VICTIM = "returned_to_victim"
    REPATRIATED = "repatriated"
    SHARED = "shared"
    STATE_FUND = "state_fund"
    SOCIAL_REUSE = "social_reuse"
    DESTROYED = "destroyed"


class ReleaseReason(StrEnum):
    SET_ASIDE_ON_CHALLENGE = "set_aside_on_challenge"
    ACQUITTAL = "acquittal"
    WITHDRAWN = "withdrawn"
    NO_CONFISCATION = "no_confiscation"
    EXPIRED_NO_ORDER = "expired_no_order"
    CONSENT_GRANTED = "consent_granted"
    APPEAL_ALLOWED = "appeal_allowed"
    OTHER = "other"


class Duration(Body):
    model_config = example({"value": 5, "unit": "working_days"})

    value: int = Field(gt=0, le=3660, description="At most 3660 (ten years of days).")
    unit: DurationUnit


# The order behind the example move, as a client sends it and as it is read back.
_ORDER_EXAMPLE = {
    "to_status": "SUSPENDED",
    "measure_type": "fiu_suspension",
    "order_reference": "FIU-DE-2026-0815",
    "issuing_authority": "Financial Intelligence Unit (FIU) Germany",
    "executing_authority": None,
    "legal_basis": "GwG § 40(1)",
    "jurisdiction": "DE",
    "decision_date": "2026-04-30",
    "effective_date": "2026-04-30",
}


class TransitionCreate(Body):
    model_config = example(
        {
            **_ORDER_EXAMPLE,
            "duration": {"value": 5, "unit": "working_days"},
            "amount": "30000.00",
            "currency": "EUR",
            "value_based": False,
            "note": "Transaction to a Dubai account suspended",
        }
    )

    to_status: LegalStatus = Field(description="The legal status the asset moves to.")
    measure_type: MeasureType | None = None
    order_reference: Text | None = Field(default=None, max_length=200)
    issuing_authority: Text | None = Field(default=None, max_length=300)
    executing_authority: Text | None = Field(
        default=None,
        max_length=300,
        description="Required when the measure's jurisdiction is not the case's (an order "
        "executed abroad).",
        examples=["Staatsanwaltschaft Zürich"],
    )
    legal_basis: Text | None = Field(
        default=None, max_length=300, description="Instrument and article, e.g. POCA s303Z3."
    )
    jurisdiction: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
        description="ISO 3166-1 country or ISO 3166-2 subdivision (`DE-BY`: working days skip "
        "Bavaria's holidays too); defaults to the asset's.",
        examples=["DE-BY"],
    )
    time_zone: Text | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone the order's days end in, when it is not the "
        "jurisdiction's (required where the jurisdiction spans several zones, e.g. `US`). A "
        "measure counted in days lapses at the end of its last day in this zone.",
        examples=["America/New_York"],
    )
    decision_date: date | None = None
    decided_at: Instant | None = Field(
        default=None,
        description="Instant of the decision or receipt, for durations in hours.",
        examples=["2026-05-29T16:30:00+02:00"],
    )
    effective_date: date | None = None
    notified_date: date | None = Field(
        default=None,
        description="When the affected person was notified.",
        examples=["2026-05-07"],
    )
    duration: Duration | None = Field(
        default=None, description="Time limit; the expiry is computed from the decision."
    )
    expiry_date: date | None = Field(
        default=None,
        description="Last day the measure holds, when the order names it.",
        examples=["2026-11-06"],
    )
    renew_by: date | None = Field(
        default=None,
        description="Defaults to two working days before the expiry (a day before it, at most "
        "half its life, for hours), never before the decision.",
        examples=["2026-11-04"],
    )
    amount: Decimal | None = Field(
        default=None, gt=0, description="Part of the value covered, or the cap of a value order."
    )
    currency: Text | None = None
    value_based: bool = False
    basis: Basis | None = Field(default=None, examples=["non_conviction_based"])
    disposal_kind: DisposalKind | None = Field(
        default=None, description="Required for DISPOSED.", examples=["returned_to_victim"]
    )
    release_reason: ReleaseReason | None = Field(
        default=None, description="Required for RELEASED.", examples=["acquittal"]
    )
    custodian: Text | None = Field(
        default=None,
        max_length=300,
        description="Who holds it.",
        examples=["Asset management office, LKA Hamburg"],
    )
    destination_account: Text | None = Field(
        default=None,
        description="DISSIPATED: the account the value went to (key or id); a new IDENTIFIED "
        "bank_balance asset opens there, the next hop to trace.",
        examples=["iban:CY17002001280000001200527600"],
    )
    note: Remark = None


class MeasureRead(BaseModel):
    model_config = example(
        {
            "id": 12,
            "asset_id": 5,
            "seq": 2,
            "from_status": "IDENTIFIED",
            **_ORDER_EXAMPLE,
            "notified_date": None,
            "duration": {"value": 5, "unit": "working_days"},
            "expiry_date": "2026-05-08",
            "expires_at": "2026-05-08T22:00:00Z",
            "renew_by": "2026-05-06",
            "renew_by_at": "2026-05-06T22:00:00Z",
            "time_zone": None,
            "amount": "30000.00",
            "currency": "EUR",
            "value_based": False,
            "basis": None,
            "disposal_kind": None,
            "release_reason": None,
            "custodian": None,
            "note": "Transaction to a Dubai account suspended",
            "actor_id": "3f9a0c1d2b4e5f60",
            "recorded_at": "2026-04-30T10:12:00Z",
        },
        from_attributes=True,
    )

    id: int
    asset_id: int
    seq: int = Field(description="1, 2, 3 ... in the order the moves were made.")
    from_status: LegalStatus | None
    to_status: LegalStatus
    measure_type: MeasureType | None
    order_reference: str | None
    issuing_authority: str | None
    executing_authority: str | None = Field(examples=["Staatsanwaltschaft Zürich"])
    legal_basis: str | None
    jurisdiction: str | None
    decision_date: date | None = Field(validation_alias="decision_on")
    effective_date: date | None = Field(validation_alias="effective_on")
    notified_date: date | None = Field(validation_alias="notified_on", examples=["2026-05-07"])
    duration: Duration | None
    expiry_date: date | None = Field(validation_alias="expiry_on")
    expires_at: datetime | None = Field(
        description="First instant the measure no longer holds: the end of its last day in its "
        "zone, or the hour it runs out."
    )
    renew_by: date | None = Field(description="Day a renewal is due, in the measure's zone.")
    renew_by_at: datetime | None = Field(
        description="Instant a renewal is due: the end of the renew-by day, or for a measure in "
        "hours the hour itself. Never before the decision.",
        examples=["2026-05-06T22:00:00Z"],
    )
    time_zone: str | None = Field(
        description="The zone the order stated; null: the jurisdiction's.",
        examples=["America/New_York"],
    )
    amount: str | None
    currency: str | None
    value_based: bool
    basis: Basis | None = Field(examples=["non_conviction_based"])
    disposal_kind: DisposalKind | None = Field(examples=["returned_to_victim"])
    release_reason: ReleaseReason | None = Field(examples=["acquittal"])
    custodian: str | None = Field(examples=["Asset management office, LKA Hamburg"])
    note: str | None
    actor_id: str | None = Field(description="null: the deadline sweep made the move.")
    recorded_at: datetime


# The first fields of every kind of deadline's example.
DEADLINE_OF_EXAMPLE: dict[str, int | str] = {
    "asset_id": 5,
    "case_id": 2,
    "case_reference": "BKA-2026-0417",
}


class DeadlineOf(BaseModel):
    """The asset and the case a deadline is of: the first fields of every kind of deadline,
    read from an object with `asset` and `case`."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    asset_id: int = Field(validation_alias=AliasPath("asset", "id"))
    case_id: int = Field(validation_alias=AliasPath("asset", "case_id"))
    case_reference: str = Field(validation_alias=AliasPath("case", "reference"))
    asset_type: str = Field(validation_alias=AliasPath("asset", "type"))
    description: str = Field(validation_alias=AliasPath("asset", "description"))
    status: LegalStatus = Field(
        validation_alias=AliasPath("asset", "status"), description="The asset's legal status."
    )


class DeadlineRead(DeadlineOf):
    """A measure lapsing (read from a `lapses.Lapsing`)."""

    model_config = example(
        {
            **DEADLINE_OF_EXAMPLE,
            "asset_type": "bank_balance",
            "description": "Balance of the current account at Commerzbank",
            "status": "SUSPENDED",
            "measure_id": 12,
            "measure_type": "fiu_suspension",
            "order_reference": "FIU-DE-2026-0815",
            "jurisdiction": "DE",
            "expiry_date": "2026-05-08",
            "expires_at": "2026-05-08T22:00:00Z",
            "renew_by": "2026-05-06",
            "renew_by_at": "2026-05-06T22:00:00Z",
            "lapsed": False,
            "lapses_to_expired": True,
            "kind": "measure_expiry",
            "due_at": "2026-05-08T22:00:00Z",
        },
    )

    measure_id: int = Field(validation_alias=AliasPath("measure", "id"))
    measure_type: MeasureType | None = Field(validation_alias=AliasPath("measure", "measure_type"))
    order_reference: str | None = Field(validation_alias=AliasPath("measure", "order_reference"))
    jurisdiction: str | None = Field(validation_alias=AliasPath("measure", "jurisdiction"))
    expiry_date: date | None = Field(validation_alias=AliasPath("asset", "expiry_on"))
    expires_at: datetime = Field(validation_alias=AliasPath("asset", "expires_at"))
    renew_by: date | None = Field(validation_alias=AliasPath("asset", "renew_by"))
    renew_by_at: datetime | None = Field(
        validation_alias=AliasPath("asset", "renew_by_at"),
        description="Instant a renewal is due.",
        examples=["2026-05-06T22:00:00Z"],
    )
    lapsed: bool = Field(description="Past its expiry, not yet marked EXPIRED by the sweep.")
    lapses_to_expired: bool = Field(
        description="The sweep records the lapse at the expiry: EXPIRED, or RELEASED "
        "(expired_no_order) for a suspension; an appeal window does not lapse."
    )
    kind: Literal["measure_expiry"] = Field(
        default="measure_expiry",
        description="`measure_expiry`: a measure lapsing; `sale_due`: an interlocutory sale due.",
    )
    due_at: datetime = Field(
        validation_alias=AliasPath("asset", "expires_at"),
        description="The instant the list is ordered by: here the expiry.",
    )


class MoveRead(BaseModel):
    model_config = example(
        {"status": "SUSPENDED", "allowed": ["FROZEN", "RELEASED", "DISSIPATED"]},
    )

    status: LegalStatus
    allowed: list[LegalStatus]


class Lapse(BaseModel):
    """One measure that ran out, and what its asset became."""

    model_config = example(
        {
            "measure_id": 12,
            "asset_id": 5,
            "from_status": "FROZEN",
            "to_status": "EXPIRED",
        },
        from_attributes=True,
    )

    measure_id: int = Field(validation_alias="id", description="The lapse event recorded.")
    asset_id: int
    from_status: LegalStatus
    to_status: LegalStatus = Field(
        description="EXPIRED for a freeze or seizure; RELEASED for a suspension."
    )


class SweepResult(BaseModel):
    model_config = example(
        {
            "expired": [12, 14],
            "lapses": [
                {
                    "measure_id": 12,
                    "asset_id": 5,
                    "from_status": "FROZEN",
                    "to_status": "EXPIRED",
                },
                {
                    "measure_id": 14,
                    "asset_id": 9,
                    "from_status": "SUSPENDED",
                    "to_status": "RELEASED",
                },
            ],
        },
    )

    expired: list[int] = Field(
        description="Ids of the lapse events recorded (EXPIRED; RELEASED for a suspension)."
    )
    lapses: list[Lapse] = Field(
        default_factory=list, description="Each lapse: its event, its asset, what it became."
    )
