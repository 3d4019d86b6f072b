from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidatorFunctionWrapHandler, WrapValidator

from app.account.numbers import ACCOUNT_CHECK_HELP, AccountCheck
from app.examples import example
from app.inputs import Body, Text
from app.source.schemas import CorrectionIn, CorrectionRead, Sourced, SourceIn, correction_example

_TX_EXAMPLE: dict[str, Any] = {
    "external_id": "T-1",
    "from_account": "iban:DE89370400440532013000",
    "to_account": "iban:FR1420041010050500013M02606",
    "amount": "1500.00",
    "currency": "EUR",
    "value_time": "2026-01-05T10:00:00Z",
    "sequence": 1,
}


def _number_kept(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A JSON number is let through here to be refused by the service with every other fault of
    # the batch, in one answer (a model error would stop the batch before its rows are checked).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return handler(value)


class TransactionIn(Body):
    """One transaction as the source gives it; accounts by key, created on first sight."""

    model_config = example(_TX_EXAMPLE)

    external_id: Text = Field(
        description="The source's own id: re-sending it into the same compartment stores "
        "nothing new. Must not hold `@case:` (reserved for engine ids)."
    )
    from_account: Text = Field(description="Account key, e.g. iban:DE89..., btc:bc1q..., cash:...")
    to_account: Text
    amount: Annotated[Text, WrapValidator(_number_kept)] = Field(
        description="Exact positive decimal as a string, within the currency's decimals (a "
        "JSON number is refused: it may be read as a float, which cannot hold money exactly)."
    )
    currency: Text = Field(
        description="ISO 4217 code or a listed crypto asset (BTC, ETH, USDT ...)."
    )
    value_time: Text = Field(
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 with a timezone (Z or offset), unless the batch states `timezone`.",
    )
    sequence: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        # strict: true or "7" would be stored as a number the source never gave.
        strict=True,
        description="Statement sequence number.",
    )
    channel: Text | None = None
    narrative: Text | None = None
    counterparty_name: Text | None = None
    counterparty_account: Text | None = None


class TransactionBatch(Sourced):
    model_config = example(
        {
            "source": {"kind": "bank_statement", "reference": "PO-2026-017"},
            "transactions": [_TX_EXAMPLE],
        }
    )

    timezone: Text | None = Field(
        default=None, description="IANA zone for value times given without an offset."
    )
    account_check: AccountCheck = Field(
        default=AccountCheck.REFUSE,
        description=ACCOUNT_CHECK_HELP,
    )
    transactions: list[TransactionIn] = Field(min_length=1)


class IngestResult(BaseModel):
    model_config = example(
        {
            "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
            "rows": 1,
            "inserted": 1,
            "already_present": 0,
            "accounts_created": 2,
        }
    )

    source_document_id: str = Field(description="Where the rows of this batch are recorded.")
    rows: int
    inserted: int
    already_present: int = Field(
        description="Rows whose external id was already stored, unchanged."
    )
    accounts_created: int


_READ_EXAMPLE: dict[str, Any] = {
    **_TX_EXAMPLE,
    "id": 1,
    "engine_id": "T-1",
    "channel": None,
    "narrative": None,
    "counterparty_name": None,
    "counterparty_account": None,
    "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
    "source_row": 1,
}


class TransactionRead(BaseModel):
    model_config = example(_READ_EXAMPLE)

    id: int
    external_id: str
    engine_id: str = Field(
        description="The record's name in traces and the API: the external id in the shared "
        "pool, `<external id>@case:<case id>` in a case's compartment."
    )
    from_account: str
    to_account: str
    amount: str
    currency: str
    value_time: datetime
    sequence: int | None
    channel: str | None
    narrative: str | None
    counterparty_name: str | None
    counterparty_account: str | None
    source_document_id: str
    source_row: int


class AccountTransactionRead(TransactionRead):
    direction: str = Field(description="`in` or `out`, seen from the account asked about.")


class DuplicateState(StrEnum):
    PROBABLE = "probable"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class DuplicateDecision(Body):
    model_config = example({"reason": "Same SEPA reference in the bank statement and the STR"})

    reason: Text = Field(min_length=1, max_length=2000, description="Why, in a sentence.")


class DuplicateRead(BaseModel):
    model_config = example(
        {
            "id": 3,
            "state": "probable",
            "detected_at": "2026-01-07T09:00:00Z",
            "transaction": {
                **_READ_EXAMPLE,
                "id": 12,
                "external_id": "STR-2026-4/T7",
                "source_document_id": "5d1c7e9b8a7f6e5d0b6f0f3c2f3e4d3a",
            },
            "original": _READ_EXAMPLE,
            "decided_by": None,
            "decided_at": None,
            "reason": None,
        }
    )

    id: int
    state: DuplicateState
    detected_at: datetime
    transaction: TransactionRead = Field(
        description="The record stored later: the engine drops it once the match is confirmed."
    )
    original: TransactionRead = Field(description="The stored record it matches.")
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class TransactionCorrectionIn(CorrectionIn):
    model_config = example(
        {
            "source": {"kind": "bank_letter", "reference": "PO-2026-017/3"},
            "reason": "The bank corrected the amount: 1,050.00, not 1,500.00",
            "transaction": {**_TX_EXAMPLE, "external_id": "T-1-c1", "amount": "1050.00"},
        }
    )

    source: SourceIn = Field(description="The document that states the corrected record.")
    transaction: TransactionIn = Field(
        description="The whole corrected record, under an external id of its own."
    )


class TransactionVersion(BaseModel):
    transaction: TransactionRead
    correction: CorrectionRead | None = Field(
        description="The correction this record came from; None for the first record."
    )
    superseded_by: int | None = Field(description="The id of the record that replaced it.")
    in_ledger: bool = Field(description="Whether tracing reads this record.")
    excluded_as: str | None = Field(description="`superseded` or `duplicate` when not traced.")


class TransactionHistory(BaseModel):
    model_config = example(
        {
            "current": 31,
            "versions": [
                {
                    "transaction": _READ_EXAMPLE,
                    "correction": None,
                    "superseded_by": 31,
                    "in_ledger": False,
                    "excluded_as": "superseded",
                },
                {
                    "transaction": {
                        **_READ_EXAMPLE,
                        "id": 31,
                        "external_id": "T-1-c1",
                        "amount": "1050.00",
                    },
                    "correction": correction_example(
                        "The bank corrected the amount: 1,050.00, not 1,500.00"
                    ),
                    "superseded_by": None,
                    "in_ledger": True,
                    "excluded_as": None,
                },
            ],
        }
    )

    current: int = Field(description="The id of the record in force.")
    versions: list[TransactionVersion] = Field(description="First record first, current last.")
