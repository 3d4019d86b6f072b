from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import AliasPath, BaseModel, ConfigDict, Field, model_validator

from app.examples import example
from app.inputs import Body, Note, Text, one_of
from app.measure.schemas import DEADLINE_OF_EXAMPLE, DeadlineOf, Duration

# The sale order of the examples, as the court made it (SaleOrderCreate) and as it is read back
# (SaleRead).
_SALE_ORDER_EXAMPLE: dict[str, Any] = {
    "ground": "rapidly_depreciating",
    "order_reference": "LG-HH-2026-612-VS",
    "issuing_authority": "Landgericht Hamburg",
    "legal_basis": "StPO § 111p",
    "decision_date": "2026-09-01",
}


class SaleGround(StrEnum):
    """Why an asset is sold before final confiscation (Directive (EU) 2024/1260)."""

    PERISHABLE = "perishable"
    RAPIDLY_DEPRECIATING = "rapidly_depreciating"
    DISPROPORTIONATE_COST = "disproportionate_cost"


class SaleStatus(StrEnum):
    ORDERED = "ordered"
    SOLD = "sold"


class Recipient(StrEnum):
    VICTIM = "victim"
    STATE = "state"


class SaleOrderCreate(Body):
    model_config = example(
        {
            **_SALE_ORDER_EXAMPLE,
            "sell_within": {"value": 30, "unit": "working_days"},
            "note": "Porsche 911 loses about 1.5 % of its value a month in storage",
        }
    )

    ground: SaleGround
    order_reference: Text = Field(min_length=1, max_length=200)
    issuing_authority: Text = Field(min_length=1, max_length=300)
    legal_basis: Text | None = Field(default=None, max_length=300)
    decision_date: date
    sell_within: Duration | None = Field(
        default=None,
        description="Time to sell, counted from the decision (working days skip the "
        "jurisdiction's holidays); or give `sell_by`.",
    )
    sell_by: date | None = Field(
        default=None, description="Last day of the sale, when the order names it."
    )
    time_zone: Text | None = Field(
        default=None,
        max_length=64,
        description="IANA zone the days end in, when not the jurisdiction's.",
        examples=["Europe/Berlin"],
    )
    note: Note = None

    _one_deadline = one_of(
        "sell_within", "sell_by", "a sale order gives sell_within or sell_by, one of them"
    )


class SaleCreate(Body):
    model_config = example(
        {
            "sold_on": "2026-09-24",
            "amount": "84500.00",
            "currency": "EUR",
            "buyer": "Auction house Nord, lot 117",
            "note": "public auction",
        }
    )

    sold_on: date
    amount: Decimal = Field(gt=0, description="The price, an exact decimal string.")
    currency: Text
    buyer: Text | None = Field(default=None, max_length=300)
    note: Note = None


class SaleRead(BaseModel):
    model_config = example(
        {
            "id": 2,
            "asset_id": 5,
            **_SALE_ORDER_EXAMPLE,
            "jurisdiction": "DE",
            "sell_by": "2026-10-13",
            "sell_by_at": "2026-10-13T22:00:00Z",
            "status": "sold",
            "overdue": False,
            "note": None,
            "ordered_by": "3f9a0c1d2b4e5f60",
            "ordered_at": "2026-09-01T10:00:00Z",
            "sold_on": "2026-09-24",
            "price": "84500.00",
            "currency": "EUR",
            "buyer": "Auction house Nord, lot 117",
            "substitute_asset_id": 9,
            "measure_id": 31,
            "sold_by": "3f9a0c1d2b4e5f60",
            "sold_at": "2026-09-24T14:00:00Z",
        },
        from_attributes=True,
    )

    id: int
    asset_id: int
    ground: SaleGround
    order_reference: str
    issuing_authority: str
    legal_basis: str | None
    jurisdiction: str | None
    decision_date: date = Field(validation_alias="decision_on")
    sell_by: date = Field(description="Last day of the sale.")
    sell_by_at: datetime = Field(description="First instant the sale is late.")
    status: SaleStatus
    overdue: bool = Field(description="Not sold by its deadline (or sold after it).")
    note: str | None
    ordered_by: str
    ordered_at: datetime
    sold_on: date | None
    price: str | None
    currency: str | None
    buyer: str | None
    substitute_asset_id: int | None = Field(
        description="The cash asset the proceeds became, in the sold asset's legal position."
    )
    measure_id: int | None = Field(description="The sold asset's SUBSTITUTED move.")
    sold_by: str | None
    sold_at: datetime | None


class SaleDeadlineRead(DeadlineOf):
    """An interlocutory sale due, a row of the deadline list (read from a `service.SaleDue`)."""

    model_config = example(
        {
            **DEADLINE_OF_EXAMPLE,
            "asset_type": "vehicle",
            "description": "Porsche 911, black",
            "status": "FROZEN",
            "sale_id": 2,
            "ground": "rapidly_depreciating",
            "order_reference": "LG-HH-2026-612-VS",
            "issuing_authority": "Landgericht Hamburg",
            "jurisdiction": "DE",
            "sell_by": "2026-10-13",
            "sell_by_at": "2026-10-13T22:00:00Z",
            "overdue": False,
            "kind": "sale_due",
            "due_at": "2026-10-13T22:00:00Z",
        },
    )

    sale_id: int = Field(validation_alias=AliasPath("sale", "id"))
    ground: SaleGround = Field(validation_alias=AliasPath("sale", "ground"))
    order_reference: str = Field(validation_alias=AliasPath("sale", "order_reference"))
    issuing_authority: str = Field(validation_alias=AliasPath("sale", "issuing_authority"))
    jurisdiction: str | None = Field(validation_alias=AliasPath("sale", "jurisdiction"))
    sell_by: date = Field(
        validation_alias=AliasPath("sale", "sell_by"), description="Last day of the sale."
    )
    sell_by_at: datetime = Field(
        validation_alias=AliasPath("sale", "sell_by_at"),
        description="First instant the sale is late.",
    )
    overdue: bool = Field(
        validation_alias=AliasPath("sale", "overdue"), description="Not sold by its deadline."
    )
    kind: Literal["sale_due"] = Field(
        default="sale_due", description="An interlocutory sale order not yet carried out."
    )
    due_at: datetime = Field(
        validation_alias=AliasPath("sale", "sell_by_at"),
        description="The instant the list is ordered by: here the sale's deadline.",
    )


class VictimShareIn(Body):
    party: Text = Field(description="The victim: a party's key or id.")
    amount: Decimal = Field(gt=0, description="Exact decimal string.")
    note: Note = None


class AllocationCreate(Body):
    model_config = example(
        {
            "victims": [
                {"party": "person:victim", "amount": "30000.00", "note": "restitution order"}
            ],
            "note": "remainder to the state fund",
        }
    )

    victims: list[VictimShareIn] = Field(
        default_factory=list,
        max_length=1000,
        description="Each victim's share, in the proceeds' currency; the state receives the "
        "rest. Empty: all to the state.",
    )
    from_claimants: bool = Field(
        default=False,
        description="Split the proceeds by the claimants' shares of the taint the trace found "
        "held there (the freezing proposal that made the asset, or the asset it replaces): "
        "each claimant, named by a party key, receives the same share of the proceeds; "
        "unattributed taint's share goes to the state. Not with `victims`.",
    )
    note: Note = None

    @model_validator(mode="after")
    def _one_way_to_name_victims(self) -> Self:
        if self.from_claimants and self.victims:
            raise ValueError("give the victims' shares or from_claimants, not both")
        return self


class ShareRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    recipient: Recipient
    party_id: int | None
    amount: str
    note: str | None


class AllocationRead(BaseModel):
    model_config = example(
        {
            "asset_id": 5,
            "proceeds": "84500.00",
            "currency": "EUR",
            "to_victims": "30000.00",
            "to_state": "54500.00",
            "shares": [
                {
                    "id": 1,
                    "recipient": "victim",
                    "party_id": 7,
                    "amount": "30000.00",
                    "note": "restitution order",
                },
                {
                    "id": 2,
                    "recipient": "state",
                    "party_id": None,
                    "amount": "54500.00",
                    "note": None,
                },
            ],
            "recorded_by": "3f9a0c1d2b4e5f60",
            "recorded_at": "2026-11-02T09:00:00Z",
        },
        from_attributes=True,
    )

    asset_id: int
    proceeds: str = Field(description="What the realisation brought; the shares sum to it.")
    currency: str
    to_victims: str
    to_state: str
    shares: list[ShareRead]
    recorded_by: str
    recorded_at: datetime
