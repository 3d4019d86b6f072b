from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.examples import example


class SearchKind(StrEnum):
    PARTY = "party"
    ACCOUNT = "account"
    TRANSACTION = "transaction"


class SearchHit(BaseModel):
    model_config = example(
        {
            "kind": "party",
            "id": 7,
            "key": "person:RU-4509-112233",
            "name": "Владимир Петров",
            "detail": "person, RU",
            "score": 0.0911,
            "linked_party_ids": [],
        },
    )

    kind: SearchKind
    id: int
    key: str = Field(description="Party key, account key, or the transaction's external id.")
    name: str | None = Field(
        description="Party name; account name or first holder; transaction narrative."
    )
    detail: str | None = Field(
        description="Party kind and country; account institution and holders; transaction "
        "amount, currency, accounts and value time."
    )
    value_time: datetime | None = None
    number_flag: str | None = Field(
        default=None, description="`invalid_number` on an account stored despite a failed check."
    )
    score: float = Field(
        description="Relevance, higher is better; comparable within one answer only."
    )
    linked_party_ids: list[int] = Field(
        default_factory=list,
        description="Other parties linked as the same person, counted in this hit.",
    )
