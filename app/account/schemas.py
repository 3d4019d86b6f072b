from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from app.account.keys import AccountKind
from app.account.numbers import ACCOUNT_CHECK_HELP, AccountCheck
from app.examples import example
from app.inputs import Body, Text
from app.party.schemas import PartyIn, PartyKind
from app.source.schemas import CorrectionIn, CorrectionRead, Sourced, SourceIn, correction_example


class HolderRole(StrEnum):
    HOLDER = "holder"
    SIGNATORY = "signatory"
    BENEFICIAL_OWNER = "beneficial_owner"
    AUTHORISED_USER = "authorised_user"


class HolderIn(Body):
    party: Text = Field(description="Key of a party in this batch or already stored.")
    role: HolderRole = HolderRole.HOLDER


class AccountIn(Body):
    key: Text = Field(
        description="Account key, e.g. iban:DE89..., btc:bc1q...; its scheme sets the kind."
    )
    name: Text | None = Field(default=None, max_length=500)
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    number: Text | None = Field(default=None, max_length=100)
    institution: Text | None = Field(default=None, max_length=300)
    currency: Text | None = Field(default=None, max_length=8)
    holders: list[HolderIn] = Field(default_factory=list)


class AccountBatch(Sourced):
    model_config = example(
        {
            "source": {"kind": "bank_production", "reference": "PO-2026-017"},
            "parties": [
                {
                    "key": "person:DE-ID-L01X00T47",
                    "kind": "person",
                    "name": "Max Mustermann",
                    "country": "DE",
                }
            ],
            "accounts": [
                {
                    "key": "iban:DE89370400440532013000",
                    "bic": "COBADEFFXXX",
                    "institution": "Commerzbank",
                    "currency": "EUR",
                    "holders": [{"party": "person:DE-ID-L01X00T47", "role": "holder"}],
                }
            ],
        }
    )

    parties: list[PartyIn] = Field(default_factory=list)
    accounts: list[AccountIn] = Field(default_factory=list)
    account_check: AccountCheck = Field(
        default=AccountCheck.REFUSE,
        description=ACCOUNT_CHECK_HELP,
    )


class AccountBatchResult(BaseModel):
    model_config = example(
        {
            "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
            "parties_inserted": 1,
            "parties_updated": 0,
            "accounts_inserted": 1,
            "accounts_updated": 0,
            "holders_added": 1,
        }
    )

    source_document_id: str | None
    parties_inserted: int
    parties_updated: int
    accounts_inserted: int
    accounts_updated: int
    holders_added: int


class HolderRead(BaseModel):
    party_id: int
    party_key: str
    name: str
    kind: PartyKind
    role: HolderRole


class CurrencyTotals(BaseModel):
    currency: str
    count_in: int
    total_in: str
    count_out: int
    total_out: str


class AccountRead(BaseModel):
    model_config = example(
        {
            "id": 1,
            "key": "iban:DE89370400440532013000",
            "kind": "bank",
            "name": None,
            "iban": "DE89370400440532013000",
            "bic": None,
            "number": None,
            "institution": None,
            "chain": None,
            "address": None,
            "currency": None,
            "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
            "created_at": "2026-01-06T08:00:00Z",
            "holders": [],
            "totals": [
                {
                    "currency": "EUR",
                    "count_in": 0,
                    "total_in": "0.00",
                    "count_out": 1,
                    "total_out": "1500.00",
                }
            ],
            "first_activity": "2026-01-05T10:00:00Z",
            "last_activity": "2026-01-05T10:00:00Z",
        }
    )

    id: int
    key: str
    kind: AccountKind
    name: str | None
    iban: str | None
    bic: str | None
    number: str | None
    institution: str | None
    chain: str | None
    address: str | None
    currency: str | None
    source_document_id: str | None = Field(
        description="The document that created it; null when that document is in a compartment "
        "you may not see (the account is known to you through others)."
    )
    created_at: datetime
    holders: list[HolderRead]
    totals: list[CurrencyTotals] = Field(
        description="Per currency, what the ledger holds: a confirmed duplicate or a superseded "
        "record is not counted (it stays listed, with its history)."
    )
    first_activity: datetime | None
    last_activity: datetime | None


class AccountFlag(StrEnum):
    INVALID_NUMBER = "invalid_number"


class FlaggedAccountRead(BaseModel):
    model_config = example(
        {
            "id": 12,
            "key": "iban:DE00370400440532013000",
            "kind": "bank",
            "name": None,
            "institution": "Commerzbank",
            "number_flag": "invalid_number",
            "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
            "created_at": "2026-01-06T08:00:00Z",
        },
        from_attributes=True,
    )

    id: int
    key: str
    kind: AccountKind
    name: str | None
    institution: str | None
    number_flag: AccountFlag
    source_document_id: str
    created_at: datetime


class AccountDetails(Body):
    """The details a correction may state; the key (and the IBAN or address in it) names the
    account itself and is not corrected: a wrong one is another account."""

    name: Text | None = Field(default=None, min_length=1, max_length=500)
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    number: Text | None = Field(default=None, min_length=1, max_length=100)
    institution: Text | None = Field(default=None, min_length=1, max_length=300)
    currency: Text | None = Field(default=None, min_length=1, max_length=8)

    @model_validator(mode="after")
    def _states_something(self) -> "AccountDetails":
        if not self.model_fields_set:
            raise ValueError("a correction states at least one detail")
        return self


class AccountCorrectionIn(CorrectionIn):
    model_config = example(
        {
            "source": {"kind": "bank_letter", "reference": "PO-2026-017/2"},
            "reason": "The bank's letter of 12 March gives the holder's name in full",
            "details": {"name": "Anna Maria Berg", "institution": "Commerzbank AG"},
        }
    )

    source: SourceIn = Field(description="The document that states the corrected details.")
    details: AccountDetails


class AccountVersion(BaseModel):
    details: dict[str, str | None]
    source_document_id: str | None = Field(
        description="The document that stated these details; null when it is in a compartment "
        "you may not see."
    )
    correction: CorrectionRead | None = Field(description="None for the account as first loaded.")


class AccountHistory(BaseModel):
    model_config = example(
        {
            "account_id": 1,
            "key": "iban:DE89370400440532013000",
            "versions": [
                {
                    "details": {
                        "name": "A. Berg",
                        "bic": None,
                        "number": None,
                        "institution": None,
                        "currency": "EUR",
                    },
                    "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
                    "correction": None,
                },
                {
                    "details": {
                        "name": "Anna Maria Berg",
                        "bic": None,
                        "number": None,
                        "institution": "Commerzbank AG",
                        "currency": "EUR",
                    },
                    "source_document_id": "5d1c7e9b8a7f6e5d0b6f0f3c2f3e4d3a",
                    "correction": correction_example(
                        "The bank's letter of 12 March gives the name in full"
                    ),
                },
            ],
        }
    )

    account_id: int
    key: str
    versions: list[AccountVersion] = Field(description="First loaded first, current last.")
