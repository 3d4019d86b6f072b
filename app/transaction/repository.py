from datetime import datetime

from sqlalchemy import Row, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from app.account.models import Account
from app.source.models import committed_rows
from app.transaction.models import Transaction

FromAccount = aliased(Account)
ToAccount = aliased(Account)
# Statement order within a value time; rows without a sequence sort first, as a bank prints them.
SEQUENCE_KEY = func.coalesce(Transaction.sequence, -1)
# Rows of a document still being loaded in slices are not part of the ledger yet.
COMMITTED = committed_rows(Transaction.source_document_id)


class TransactionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _with_keys(self) -> Select[Transaction, str, str]:
        return (
            select(Transaction, FromAccount.key, ToAccount.key)
            .join(FromAccount, FromAccount.id == Transaction.from_account_id)
            .join(ToAccount, ToAccount.id == Transaction.to_account_id)
            .where(COMMITTED)
        )

    def get(self, transaction_id: int) -> Row[Transaction, str, str] | None:
        return self.session.execute(
            self._with_keys().where(Transaction.id == transaction_id)
        ).first()

    def get_by_external_id(self, external_id: str) -> Row[Transaction, str, str] | None:
        return self.session.execute(
            self._with_keys().where(Transaction.external_id == external_id)
        ).first()

    def source_of(self, external_id: str) -> str | None:
        return self.session.scalar(
            select(Transaction.source_document_id).where(
                Transaction.external_id == external_id, COMMITTED
            )
        )

    def ids_by_external_id(self, external_ids: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(external_ids), 500):
            stmt = select(
                Transaction.external_id, Transaction.id, Transaction.source_document_id
            ).where(Transaction.external_id.in_(external_ids[start : start + 500]), COMMITTED)
            found.update((ext, (tid, doc)) for ext, tid, doc in self.session.execute(stmt))
        return found

    def page_for_account(
        self,
        account_id: int,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[datetime, int, int] | None,
    ) -> list[Row[Transaction, str, str]]:
        stmt = self._with_keys().where(
            or_(Transaction.from_account_id == account_id, Transaction.to_account_id == account_id)
        )
        if start is not None:
            stmt = stmt.where(Transaction.value_time >= start)
        if end is not None:
            stmt = stmt.where(Transaction.value_time < end)
        if after is not None:
            at, seq, last_id = after
            stmt = stmt.where(
                or_(
                    Transaction.value_time > at,
                    and_(
                        Transaction.value_time == at,
                        tuple_(SEQUENCE_KEY, Transaction.id) > (seq, last_id),
                    ),
                )
            )
        stmt = stmt.order_by(Transaction.value_time, SEQUENCE_KEY, Transaction.id).limit(limit + 1)
        return list(self.session.execute(stmt))

    def totals_for_account(
        self, account_id: int
    ) -> list[tuple[str, str, int, int, datetime, datetime]]:
        """(direction, currency, count, sum of minor units, first, last) per direction/currency."""
        rows: list[tuple[str, str, int, int, datetime, datetime]] = []
        for direction, column in (
            ("in", Transaction.to_account_id),
            ("out", Transaction.from_account_id),
        ):
            stmt = (
                select(
                    Transaction.currency,
                    func.count(),
                    func.sum(Transaction.amount_minor),
                    func.min(Transaction.value_time),
                    func.max(Transaction.value_time),
                )
                .where(column == account_id, COMMITTED)
                .group_by(Transaction.currency)
                .order_by(Transaction.currency)
            )
            rows.extend(
                (direction, cur, int(n), int(total), first, last)
                for cur, n, total, first, last in self.session.execute(stmt)
            )
        return rows
