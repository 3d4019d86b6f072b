from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from app.examples import example
from app.inputs import Body, Text

_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"


class ProposalCreate(Body):
    model_config = example({"case_id": 17, "min_amount": "1000.00", "min_amounts": {"BTC": "0.05"}})

    case_id: int = Field(ge=1, description="The case the assets are proposed in (writable).")
    min_amount: str | None = Field(
        default=None,
        pattern=_DECIMAL,
        description="Only holdings of at least this amount, read in each holding's own "
        "currency (1000 is 1000 EUR and 1000 BTC alike): with several currencies, give "
        "`min_amounts` too.",
    )
    min_amounts: dict[
        Annotated[Text, Field(pattern=r"^[A-Za-z0-9]{2,12}$")],
        Annotated[Text, Field(pattern=_DECIMAL, max_length=40)],
    ] = Field(
        default_factory=dict,
        max_length=100,
        description="Per currency (code, any case), the least holding proposed: it replaces "
        "`min_amount` for the currencies it names.",
    )

    def minimum(self, currency: str) -> Decimal | None:
        """The least holding proposed in ``currency``, if any."""
        given = {code.upper(): amount for code, amount in self.min_amounts.items()}
        amount = given.get(currency.upper(), self.min_amount)
        return None if amount is None else Decimal(amount)


class SkipReason(StrEnum):
    """Why a holding of the trace became no asset."""

    BELOW_MIN_AMOUNT = "below_min_amount"
    ALREADY_PROPOSED = "already_proposed"
    ACTIVE_MEASURE = "active_measure"
    NOT_FREEZABLE = "not_freezable"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_CURRENCY = "unknown_currency"


class ClaimantShare(BaseModel):
    claimant: str | None = Field(description="The claimant; null for unattributed taint.")
    amount: str = Field(description="Decimal string in the holding's currency.")


class ProposedAsset(BaseModel):
    account: str
    currency: str
    held: str = Field(description="The taint held: what the asset is valued at.")
    asset_id: int
    asset_type: str = Field(description="`bank_balance` or `crypto_holdings`, by the account.")
    status: str = Field(description="Always `TRACED`: a freeze is a legal act of its own.")
    transactions: list[str] = Field(
        description="External ids of the transactions that carried the taint to the account "
        "(the asset is linked to each, and to the trace)."
    )
    claimant_shares: list[ClaimantShare] | None = Field(
        description="Each claimant's share of the holding (None: the trace named no claimants)."
    )


class SkippedHolding(BaseModel):
    account: str
    currency: str
    held: str
    reason: SkipReason
    detail: str
    asset_id: int | None = Field(
        default=None, description="The asset already proposed, or under the active measure."
    )


class ProposalResult(BaseModel):
    model_config = example(
        {
            "trace_id": "5c1f0e6f2b7d4c3a9e8d7c6b5a493827",
            "case_id": 17,
            "created": [
                {
                    "account": "iban:CY17002001280000001200527600",
                    "currency": "EUR",
                    "held": "10900.00",
                    "asset_id": 42,
                    "asset_type": "bank_balance",
                    "status": "TRACED",
                    "transactions": ["DEMO-L05"],
                    "claimant_shares": None,
                }
            ],
            "skipped": [
                {
                    "account": "iban:DE75512108001245126199",
                    "currency": "EUR",
                    "held": "10500.00",
                    "reason": "active_measure",
                    "detail": "asset 40 of the case is FROZEN",
                    "asset_id": 40,
                }
            ],
        },
    )

    trace_id: str
    case_id: int
    created: list[ProposedAsset]
    skipped: list[SkippedHolding]
