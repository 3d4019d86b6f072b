from pydantic import BaseModel, Field

from app.asset.machine import LegalStatus
from app.examples import example
from app.overview.schemas import MoneyTotal

_VALUES = Field(
    description="The value the orders concerned, per currency (the order's amount, else the "
    "asset's valuation), exact.",
    examples=[[{"currency": "EUR", "amount": "398210.55"}]],
)


class OffenceStateRow(BaseModel):
    predicate_offence: str = Field(
        description="A predicate offence of the case, or `unspecified`.", examples=["fraud"]
    )
    legal_state: LegalStatus
    orders: int = Field(examples=[2])
    values: list[MoneyTotal] = _VALUES


class StateRow(BaseModel):
    legal_state: LegalStatus
    orders: int = Field(examples=[2])
    values: list[MoneyTotal] = _VALUES


class StatisticsRead(BaseModel):
    model_config = example(
        {
            "year": 2026,
            "by_offence": [
                {
                    "predicate_offence": "drug_trafficking",
                    "legal_state": "FROZEN",
                    "orders": 2,
                    "values": [{"currency": "EUR", "amount": "398210.55"}],
                }
            ],
            "by_state": [
                {
                    "legal_state": "FROZEN",
                    "orders": 2,
                    "values": [{"currency": "EUR", "amount": "398210.55"}],
                }
            ],
        },
    )

    year: int
    by_offence: list[OffenceStateRow] = Field(
        description="A case with several predicate offences counts under each."
    )
    by_state: list[StateRow] = Field(
        description="Each order once. FROZEN and SEIZED: freezing orders; CONFISCATION_ORDERED "
        "and CONFISCATED: confiscation orders, first instance and final; REALISED and "
        "DISPOSED: value recovered."
    )
