from enum import StrEnum

from pydantic import BaseModel, Field
from pydantic.config import JsonDict

from app.examples import example
from app.inputs import Body, Text


class PartyKind(StrEnum):
    PERSON = "person"
    LEGAL_ENTITY = "legal_entity"


# A party as a source names it (PartyIn) and as it is read back (PARTY_EXAMPLE).
_PARTY_IN_EXAMPLE: JsonDict = {
    "key": "person:DE-ID-L01X00T47",
    "kind": "person",
    "name": "Max Mustermann",
    "country": "DE",
    "identifiers": {"national_id": "L01X00T47"},
}


class PartyIn(Body):
    model_config = example(_PARTY_IN_EXAMPLE)

    key: Text = Field(
        min_length=1, max_length=300, description="The source's stable id of the party."
    )
    kind: PartyKind
    name: Text = Field(min_length=1, max_length=500)
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="Nationality or incorporation (ISO 3166)."
    )
    identifiers: dict[Text, Text] = Field(default_factory=dict)


PARTY_EXAMPLE: JsonDict = {
    "id": 7,
    **_PARTY_IN_EXAMPLE,
    "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
}


class PartyRead(BaseModel):
    model_config = example(PARTY_EXAMPLE, from_attributes=True)

    id: int
    key: str
    kind: PartyKind
    name: str
    country: str | None
    identifiers: dict[str, str]
    source_document_id: str | None = Field(
        description="The document that created it; null when that document is in a compartment "
        "you may not see (the party is then known to you by its key, through a holder link)."
    )


class PartyAccount(BaseModel):
    account_id: int
    key: str
    role: str = Field(description="The party's role on the account (holder, authorised, ...).")


class PartyCase(BaseModel):
    case_id: int
    reference: str
    title: str
    role: str = Field(description="The party's role as a subject of the case.")


class PartyRecord(PartyRead):
    """A party with the accounts it holds and the cases (that the caller may see) naming it."""

    model_config = example(
        {
            **PARTY_EXAMPLE,
            "accounts": [
                {"account_id": 12, "key": "iban:DE44500105175407324931", "role": "holder"}
            ],
            "cases": [
                {
                    "case_id": 3,
                    "reference": "BKA-2026-0042",
                    "title": "Operation Nordlicht",
                    "role": "suspect",
                }
            ],
        }
    )

    accounts: list[PartyAccount]
    cases: list[PartyCase]
