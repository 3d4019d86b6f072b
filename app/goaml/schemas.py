from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.examples import example

_REPORT_EXAMPLE: dict[str, Any] = {
    "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
    "filename": "str-2026-0007.xml",
    "reference": "BANK-STR-2026-0007",
    "report_code": "STR",
    "replay": False,
    "transactions": 1,
    "inserted": 1,
    "already_present": 0,
    "parties_inserted": 2,
    "accounts_inserted": 2,
    "holders_added": 1,
    "repeats": 0,
    "party_links": 0,
    "note_count": 1,
    "notes": [
        {
            "path": "/report/transaction[2]/date_transaction",
            "line": 31,
            "msg": "<date_transaction> '2026-02-27T10:05:00.1234567': digits beyond the "
            "microsecond (7) dropped",
            "type": "truncated",
        }
    ],
}


class GoamlNote(BaseModel):
    """Something the report says that was accepted but is worth knowing."""

    path: str | None = Field(description="The element, e.g. /report/transaction[3].")
    line: int | None
    msg: str
    type: str = Field(
        description="repeat | truncated | conflict | flag | schema_equal_value",
    )


class GoamlReportResult(BaseModel):
    source_document_id: str = Field(description="Where the report is recorded (first receipt).")
    filename: str | None
    reference: str = Field(description="fiu_ref_number, else entity_reference.")
    report_code: str
    replay: bool = Field(description="True when these exact bytes were already stored.")
    transactions: int
    inserted: int
    already_present: int
    parties_inserted: int
    accounts_inserted: int
    holders_added: int
    repeats: int = Field(description="Transactions repeated byte for byte, stored once.")
    party_links: int = Field(description="Directors and probable same persons linked.")
    notes: list[GoamlNote] = Field(
        description="Accepted, and said: repeats, truncated digits, conflicts kept apart, "
        "values that are not what a stricter profile wants, schema faults not counted; at "
        "most `error_list_max` of them."
    )
    note_count: int = Field(description="How many notes there are, listed or not.")


class GoamlImportResult(BaseModel):
    model_config = example(
        {"reports": [_REPORT_EXAMPLE], "profile": "goaml-5.0.1-generic"},
    )

    profile: str = Field(description="The code-list profile the reports were checked against.")
    reports: list[GoamlReportResult]


class GoamlTransactionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    transaction_id: int
    transactionnumber: str
    internal_ref_number: str | None
    transmode_code: str
    transaction_location: str | None
    value_date: datetime | None
    from_funds_code: str | None
    to_funds_code: str | None
    from_my_client: bool
    to_my_client: bool
    conductor_party_id: int | None
    foreign_currency: list[dict[str, str]]
    parties: list[dict[str, str | None]]


class GoamlPartyLinkRead(BaseModel):
    party_key: str
    related_party_key: str
    relation: str = Field(description="director (of the related entity) | probable_same_person")
    role: str | None = Field(description="The director's role, as the report gives it.")


class GoamlReportRead(BaseModel):
    model_config = example(
        {
            "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
            "rentity_id": "4711",
            "rentity_branch": "Main",
            "submission_code": "E",
            "report_code": "STR",
            "entity_reference": "BANK-STR-2026-0007",
            "fiu_ref_number": None,
            "reported_at": "2026-03-02T09:15:00Z",
            "currency_code_local": "EUR",
            "reason": "Cash deposits just under the threshold, wired abroad the same day.",
            "action": None,
            "indicators": ["STRUC"],
            "profile": "goaml-5.0.1-generic",
            "timezone": "UTC",
            "transactions": [],
            "party_links": [
                {
                    "party_key": "person:ssn:1234010190",
                    "related_party_key": "entity:reg:ES:B12345678",
                    "relation": "director",
                    "role": "DIR",
                }
            ],
        },
        from_attributes=True,
    )

    source_document_id: str
    rentity_id: str
    rentity_branch: str | None
    submission_code: str
    report_code: str
    entity_reference: str | None
    fiu_ref_number: str | None
    reported_at: datetime
    currency_code_local: str
    reason: str | None
    action: str | None
    indicators: list[str]
    profile: str
    timezone: str
    transactions: list[GoamlTransactionRead]
    party_links: list[GoamlPartyLinkRead]
