from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.asset.machine import LegalStatus
from app.examples import example
from app.inputs import Body, Note, Text, one_of

# A later valuation as it is given (ValuationCreate) and read back (ValuationHistoryRead).
_VALUATION_EXAMPLE: dict[str, Any] = {
    "amount": "71500.00",
    "currency": "EUR",
    "valued_on": "2026-09-01",
    "method": "dealer appraisal",
    "source": "Autohaus Nord, report 2026-311",
}


# A cost as it is given (CostCreate) and read back (CostRead).
_COST_EXAMPLE: dict[str, Any] = {
    "kind": "storage",
    "amount": "1250.00",
    "currency": "EUR",
    "incurred_on": "2026-09-30",
    "note": "Secure garage, September",
}


JURISDICTION = Field(
    default=None,
    pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
    description="ISO 3166-1 alpha-2 country code, or an ISO 3166-2 subdivision such as `DE-BY`.",
)
PERCENT = Field(
    default=None,
    gt=0,
    le=100,
    decimal_places=2,
    description="Share held, in percent.",
    examples=["25.5"],
)


class AssetType(StrEnum):
    BANK_BALANCE = "bank_balance"
    REAL_ESTATE = "real_estate"
    VEHICLE = "vehicle"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    COMPANY_SHARES = "company_shares"
    CRYPTO_HOLDINGS = "crypto_holdings"
    CASH = "cash"
    VALUABLES = "valuables"
    OTHER = "other"


# For each type, groups of descriptors of which at least one must be given.
REQUIRED: dict[AssetType, tuple[tuple[str, ...], ...]] = {
    AssetType.BANK_BALANCE: (("account",), ("valuation",)),
    AssetType.REAL_ESTATE: (("registry_id", "address"),),
    AssetType.VEHICLE: (("vin", "registration"),),
    AssetType.VESSEL: (("name", "registration"),),
    AssetType.AIRCRAFT: (("registration",),),
    AssetType.COMPANY_SHARES: (("company_name",),),
    AssetType.CRYPTO_HOLDINGS: (("chain",), ("wallet_address",), ("holding_asset",)),
}


class Valuation(Body):
    model_config = example(
        {
            "amount": "48210.55",
            "currency": "EUR",
            "valued_on": "2026-03-02",
            "method": "bank statement",
        }
    )

    amount: Decimal = Field(ge=0, description="Exact decimal string, e.g. `48210.55`.")
    currency: Text = Field(description="ISO 4217 code, or a crypto ticker such as BTC.")
    valued_on: date | None = None
    method: Text | None = Field(default=None, max_length=100)


class OwnerIn(Body):
    party: Text = Field(description="A party's key or id.")
    share_percent: Decimal | None = PERCENT


class LinkIn(Body):
    transaction: Text | None = Field(default=None, description="A transaction's id or external id.")
    trace_id: Text | None = Field(default=None, max_length=64, description="A stored trace run.")
    note: Note = None

    _one_target = one_of(
        "transaction", "trace_id", "a link names a transaction or a trace, not both"
    )


class LinksCreate(Body):
    model_config = example(
        {
            "links": [
                {"transaction": "STMT-2026-0042", "note": "deposit from the mule account"},
                {"trace_id": "9b2f4c1d0e8a4b7f9c3d2e1f0a9b8c7d", "note": "reached at hop 3"},
            ]
        }
    )

    links: list[LinkIn] = Field(min_length=1)


class AssetCreate(Body):
    model_config = example(
        {
            "type": "bank_balance",
            "description": "Balance of the current account at Commerzbank",
            "jurisdiction": "DE",
            "account": "iban:DE89370400440532013000",
            "valuation": {"amount": "48210.55", "currency": "EUR", "valued_on": "2026-03-02"},
            "owners": [{"party": "person:DE-ID-L01X00T47", "share_percent": "100"}],
            "links": [{"transaction": "STMT-2026-0042", "note": "cash deposits"}],
        }
    )

    type: AssetType
    description: Text = Field(min_length=1, max_length=2000)
    jurisdiction: str | None = JURISDICTION
    account: Text | None = Field(default=None, description="bank_balance: the account key or id.")
    registry_id: Text | None = Field(
        default=None,
        max_length=200,
        description="Land or company registry id.",
        examples=["Grundbuch Hamburg-Altona Blatt 4711"],
    )
    address: Text | None = Field(
        default=None,
        max_length=500,
        description="Real estate address.",
        examples=["Hafenstraße 12, 20359 Hamburg"],
    )
    vin: str | None = Field(
        default=None, pattern=r"^[A-HJ-NPR-Z0-9]{17}$", examples=["WP0ZZZ99ZTS392124"]
    )
    registration: Text | None = Field(
        default=None,
        max_length=50,
        description="Plate, IMO number or aircraft registration.",
        examples=["HH-AB 1234"],
    )
    name: Text | None = Field(
        default=None,
        max_length=300,
        description="Vessel or aircraft name.",
        examples=["MY Sea Breeze"],
    )
    company_name: Text | None = Field(default=None, max_length=300, examples=["Acme GmbH"])
    share_percent: Decimal | None = PERCENT
    chain: Text | None = Field(
        default=None, max_length=30, description="e.g. bitcoin, ethereum", examples=["bitcoin"]
    )
    wallet_address: Text | None = Field(
        default=None, max_length=200, examples=["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]
    )
    holding_asset: Text | None = Field(
        default=None, max_length=8, description="Ticker, e.g. BTC.", examples=["BTC"]
    )
    holding_amount: Decimal | None = Field(
        default=None, ge=0, description="Units of the asset.", examples=["1.5"]
    )
    valuation: Valuation | None = None
    owners: list[OwnerIn] = Field(default_factory=list)
    links: list[LinkIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _descriptors_of_type(self) -> Self:
        for group in REQUIRED.get(self.type, ()):
            if all(getattr(self, f) is None for f in group):
                raise ValueError(f"a {self.type} asset needs {' or '.join(group)}")
        if self.account is not None and self.type is not AssetType.BANK_BALANCE:
            raise ValueError("only a bank_balance asset names an account")
        return self


class OwnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    party_id: int
    party_key: str
    name: str
    share_percent: str | None


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    transaction_id: int | None
    trace_id: str | None
    note: str | None


class ValuationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    amount: str
    currency: str
    valued_on: date | None
    method: str | None


class ValuationCreate(Body):
    model_config = example(_VALUATION_EXAMPLE)

    amount: Decimal = Field(ge=0, description="Exact decimal string, e.g. `71500.00`.")
    currency: Text = Field(description="ISO 4217 code, or a crypto ticker such as BTC.")
    valued_on: date = Field(description="The date the value holds for.")
    method: Text | None = Field(default=None, max_length=100)
    source: Text | None = Field(
        default=None, max_length=300, description="Who valued it, or the document it comes from."
    )


class ValuationHistoryRead(BaseModel):
    model_config = example(
        {
            "id": 3,
            "asset_id": 5,
            **_VALUATION_EXAMPLE,
            "recorded_by": "3f9a0c1d2b4e5f60",
            "recorded_at": "2026-09-02T08:15:00Z",
        },
        from_attributes=True,
    )

    id: int
    asset_id: int
    amount: str
    currency: str
    valued_on: date | None = Field(
        description="Null only for a valuation given undated at registration."
    )
    method: str | None
    source: str | None
    recorded_by: str
    recorded_at: datetime


class CostKind(StrEnum):
    STORAGE = "storage"
    INSURANCE = "insurance"
    MAINTENANCE = "maintenance"
    FEES = "fees"
    OTHER = "other"


class CostCreate(Body):
    model_config = example(_COST_EXAMPLE)

    kind: CostKind
    amount: Decimal = Field(gt=0, description="Exact decimal string, e.g. `1250.00`.")
    currency: Text = Field(description="The currency of the asset's valuation, if it has one.")
    incurred_on: date
    note: Note = None


class CostRead(BaseModel):
    model_config = example(
        {
            "id": 8,
            "asset_id": 5,
            **_COST_EXAMPLE,
            "recorded_by": "3f9a0c1d2b4e5f60",
            "recorded_at": "2026-10-01T08:00:00Z",
        },
        from_attributes=True,
    )

    id: int
    asset_id: int
    kind: CostKind
    amount: str
    currency: str
    incurred_on: date
    note: str | None
    recorded_by: str
    recorded_at: datetime


class MoneyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    amount: str


# Read from the ORM row: `AssetRead.model_validate(asset)` (the row's properties format money).
class AssetRead(BaseModel):
    model_config = example(
        {
            "id": 5,
            "case_id": 2,
            "type": "bank_balance",
            "description": "Balance of the current account at Commerzbank",
            "jurisdiction": "DE",
            "status": "FROZEN",
            "version": 3,
            "account_id": 1,
            "account_key": "iban:DE89370400440532013000",
            "registry_id": None,
            "address": None,
            "vin": None,
            "registration": None,
            "name": None,
            "company_name": None,
            "share_percent": None,
            "chain": None,
            "wallet_address": None,
            "holding_asset": None,
            "holding_amount": None,
            "valuation": {
                "amount": "48210.55",
                "currency": "EUR",
                "valued_on": "2026-03-02",
                "method": None,
            },
            "restrained_amount": "30000.00",
            "expires_at": "2026-09-02T22:00:00Z",
            "expiry_date": "2026-09-02",
            "renew_by": "2026-08-31",
            "renew_by_at": "2026-08-31T22:00:00Z",
            "replaces_asset_id": None,
            "management_costs": [{"currency": "EUR", "amount": "2500.00"}],
            "costs_exceed_value": False,
            "owners": [
                {
                    "party_id": 7,
                    "party_key": "person:DE-ID-L01X00T47",
                    "name": "Max Mustermann",
                    "share_percent": "100.00",
                }
            ],
            "links": [{"id": 1, "transaction_id": 42, "trace_id": None, "note": "cash deposits"}],
            "allowed_transitions": ["FROZEN", "SEIZED", "RELEASED", "EXPIRED"],
            "created_by": "3f9a0c1d2b4e5f60",
            "created_at": "2026-03-02T09:00:00Z",
        },
        from_attributes=True,
    )

    id: int
    case_id: int
    type: AssetType
    description: str
    jurisdiction: str | None
    status: LegalStatus
    version: int = Field(description="Also sent as the ETag header.")
    account_id: int | None
    account_key: str | None
    registry_id: str | None = Field(examples=["HRB 12345"])
    address: str | None = Field(examples=["Hafenstraße 12, 20359 Hamburg"])
    vin: str | None = Field(examples=["WP0ZZZ99ZTS392124"])
    registration: str | None = Field(examples=["HH-AB 1234"])
    name: str | None = Field(examples=["MY Sea Breeze"])
    company_name: str | None = Field(examples=["Acme GmbH"])
    share_percent: str | None = Field(examples=["25.50"])
    chain: str | None = Field(examples=["bitcoin"])
    wallet_address: str | None = Field(examples=["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"])
    holding_asset: str | None = Field(examples=["BTC"])
    holding_amount: str | None = Field(examples=["1.50000000"])
    valuation: ValuationRead | None = Field(
        description="The latest valuation by date (the history: `/assets/{asset_id}/valuations`)."
    )
    restrained_amount: str | None = Field(
        description="Part of the value held by the measure in force; null: all of it."
    )
    expires_at: datetime | None = Field(description="First instant the measure no longer holds.")
    expiry_date: date | None = Field(
        validation_alias="expiry_on", description="Last day the measure in force holds."
    )
    renew_by: date | None
    renew_by_at: datetime | None = Field(
        description="Instant a renewal of the measure in force is due.",
        examples=["2026-08-31T22:00:00Z"],
    )
    replaces_asset_id: int | None = Field(examples=[4])
    management_costs: list[MoneyRead] = Field(
        description="Costs of keeping the asset (storage, insurance, maintenance, fees), "
        "totalled per currency."
    )
    costs_exceed_value: bool = Field(
        description="The costs in the valuation's currency exceed the latest valuation: a case "
        "for an interlocutory sale."
    )
    owners: list[OwnerRead]
    links: list[LinkRead]
    allowed_transitions: list[LegalStatus]
    created_by: str
    created_at: datetime
