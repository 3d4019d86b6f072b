from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from app.case.schemas import ConvergenceRead
from app.examples import example
from app.inputs import Body, Text
from app.matching.keys import KINDS

MatchedOn = Annotated[str, Field(description=f"What matched: one of {', '.join(KINDS)}.")]


class ContactRead(BaseModel):
    """What the other case's lead chose to reveal: themselves, to be contacted."""

    api_key_id: str
    name: str
    note: str | None


class ConvergenceEntryRead(ConvergenceRead):
    model_config = example(
        {
            "entity": "account",
            "id": 12,
            "key": "iban:DE89370400440532013000",
            "name": "Anna Berg",
            "same_as": [],
            "cases": [
                {
                    "case_id": 9,
                    "reference": "LKA-2026-0310",
                    "kind": "criminal_investigation",
                    "title": "Wildlife smuggling via Hamburg",
                    "predicate_offences": ["wildlife_crime"],
                    "roles": ["in_evidence"],
                }
            ],
            "blind": True,
            "matched_on": "account",
            "matched_key": "iban:DE89370400440532013000",
            "contacts": [],
        },
    )

    blind: bool = Field(
        default=False,
        description="True: a compartment the caller cannot see holds this key too. Which case, "
        "how many, and what it holds are not told; `cases` lists only the caller's own.",
    )
    matched_on: MatchedOn | None = Field(default=None, examples=["account"])
    matched_key: str | None = Field(
        default=None, description="The caller's key that matched, normalised as compared."
    )
    contacts: list[ContactRead] = Field(
        default_factory=list,
        description="Leads of the other cases who chose to be contacted about this match.",
    )


class CaseNamed(BaseModel):
    case_id: int
    reference: str


class NotificationRead(BaseModel):
    model_config = example(
        {
            "id": 4,
            "case": {"case_id": 1, "reference": "BKA-2026-0001"},
            "other_case": {"case_id": 9, "reference": "LKA-2026-0310"},
            "matched_on": "account",
            "matched_key": "iban:DE89370400440532013000",
            "created_at": "2026-03-02T09:00:00Z",
            "decision": None,
            "note": None,
            "decided_at": None,
            "reply": None,
        },
    )

    id: int
    case: CaseNamed = Field(description="The case the caller leads, which held the key first.")
    other_case: CaseNamed = Field(description="The case whose document brought the key since.")
    matched_on: MatchedOn
    matched_key: str | None = Field(
        description="The key as this case's documents hold it; null once they no longer do."
    )
    created_at: datetime
    decision: str | None = Field(description="`contact`, `decline`, or null while undecided.")
    note: str | None
    decided_at: datetime | None
    reply: ContactRead | None = Field(
        description="The other case's lead, when they chose to be contacted about this match "
        "(only on notifications made both ways, before notifications went to the first case "
        "alone; null on every one made since)."
    )


class Decision(StrEnum):
    CONTACT = "contact"
    DECLINE = "decline"


class NotificationDecision(Body):
    model_config = example(
        {"decision": "contact", "note": "Call me on ext. 4711"},
    )

    decision: Decision
    note: Annotated[Text, Field(max_length=2000)] | None = None
