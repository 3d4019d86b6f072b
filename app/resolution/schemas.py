from datetime import datetime

from pydantic import BaseModel, Field

from app.examples import example
from app.inputs import Body, Text


class SameAsIn(Body):
    model_config = example(
        {
            "other": "person:goaml-4711",
            "reason": "Same passport number and birth date in the STR and the bank's KYC",
        }
    )

    other: Text = Field(min_length=1, max_length=300, description="The other party's key or id.")
    reason: Text = Field(min_length=1, max_length=2000)


class LinkDecision(BaseModel):
    party: str
    other: str
    linked: bool = Field(description="True: linked as one; false: a link undone.")
    reason: str
    actor_id: str
    at: datetime


class SameAsRead(BaseModel):
    model_config = example(
        {
            "party": "person:anna",
            "linked_parties": ["person:anna", "person:goaml-4711"],
            "decisions": [
                {
                    "party": "person:anna",
                    "other": "person:goaml-4711",
                    "linked": True,
                    "reason": "Same passport number and birth date",
                    "actor_id": "3f2a9c0d1e4b5a67",
                    "at": "2026-03-13T09:00:00Z",
                }
            ],
        },
    )

    party: str
    linked_parties: list[str] = Field(description="Every party counted as one with it, itself too.")
    decisions: list[LinkDecision] = Field(
        description="Every link and undo naming it, oldest first."
    )


class CandidateParty(BaseModel):
    id: int
    key: str
    name: str


class CandidateReason(BaseModel):
    kind: str = Field(description="name, identifier, birth_date, shared_account or address.")
    weight: float = Field(description="What it adds to the score (negative: counts against).")
    detail: str


class Candidate(BaseModel):
    party: CandidateParty
    score: float = Field(ge=0, le=1)
    reasons: list[CandidateReason]


class CandidateList(BaseModel):
    model_config = example(
        {
            "party": "person:anna",
            "folded_name": "anna berg",
            "candidates": [
                {
                    "party": {"id": 9, "key": "person:goaml-4711", "name": "Анна Берг"},
                    "score": 0.8,
                    "reasons": [
                        {
                            "kind": "name",
                            "weight": 0.5,
                            "detail": "names alike (1.00): 'anna berg' ~ 'anna berg'",
                        },
                        {
                            "kind": "birth_date",
                            "weight": 0.15,
                            "detail": "same birth date 1984-03-02",
                        },
                        {
                            "kind": "shared_account",
                            "weight": 0.15,
                            "detail": "both hold iban:DE89370400440532013000",
                        },
                    ],
                }
            ],
        },
    )

    party: str
    folded_name: str = Field(description="The name as compared: Latin letters, lower case.")
    candidates: list[Candidate] = Field(description="Best first; nothing is linked by itself.")
