"""Corrections of an account's details: appended with a reason and the correcting source
document, never written over the account as first loaded. The account reads as its newest
correction of each field; its history lists every state it had. The engine keys accounts by
their key alone, which a correction cannot change, so a trace is not affected."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.account.models import Account, AccountCorrection
from app.account.repository import AccountRepository
from app.compartments import EVERY, Compartments
from app.source import service as source_service
from app.source.models import visible_rows
from app.source.statements import known_details

# The details a correction may state; the key and what it is made of (IBAN, chain, address)
# name the account itself: a wrong one is another account.
CORRECTABLE = ("name", "bic", "number", "institution", "currency")


class AccountCorrectionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_account(
        self, account_id: int, compartments: Compartments = EVERY
    ) -> list[AccountCorrection]:
        stmt = (
            select(AccountCorrection)
            .where(AccountCorrection.account_id == account_id)
            .order_by(AccountCorrection.id)
        )
        if not compartments.every:
            stmt = stmt.where(visible_rows(AccountCorrection.source_document_id, compartments))
        return list(self.session.scalars(stmt))

    def add(self, correction: AccountCorrection) -> None:
        self.session.add(correction)
        self.session.flush()


def corrected_details(
    session: Session, account_id: int, compartments: Compartments = EVERY
) -> dict[str, Any]:
    """The fields visible corrections have stated, newest last (empty: never corrected)."""
    details: dict[str, Any] = {}
    for correction in AccountCorrectionRepository(session).of_account(account_id, compartments):
        details.update(correction.details)
    return details


def account_history(
    session: Session, account: Account, compartments: Compartments = EVERY
) -> dict[str, Any]:
    """The account's details as first loaded (with what other compartments' documents stated
    of it), then after each correction, as far as the caller's compartments hold them (a
    hidden first load reads as no details)."""
    first_seen = source_service.document_visible(session, account.source_document_id, compartments)
    stated = AccountRepository(session).statements([account.id], compartments).get(account.id, [])
    told = known_details(
        {field: getattr(account, field) for field in CORRECTABLE} if first_seen else None, stated
    )
    details = {field: told.get(field) for field in CORRECTABLE}
    versions: list[dict[str, Any]] = [
        {
            "details": dict(details),
            "source_document_id": account.source_document_id if first_seen else None,
            "correction": None,
        }
    ]
    for correction in AccountCorrectionRepository(session).of_account(account.id, compartments):
        details.update(correction.details)
        versions.append(
            {
                "details": dict(details),
                "source_document_id": correction.source_document_id,
                "correction": {
                    "reason": correction.reason,
                    "source_document_id": correction.source_document_id,
                    "corrected_by": correction.corrected_by,
                    "corrected_at": correction.corrected_at,
                },
            }
        )
    return {"account_id": account.id, "key": account.key, "versions": versions}
