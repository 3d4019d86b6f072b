from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from app.account.models import Account
from app.compartments import EVERY, Compartments
from app.db import in_chunks, table_of
from app.pagination import CursorCodec, Keyset, TimeSeqIdKey, page
from app.source.models import CompartmentChange, committed_rows, visible_rows
from app.transaction.models import Transaction, in_ledger, suffix_of

FromAccount = aliased(Account)
ToAccount = aliased(Account)
# Statement order within a value time; rows without a sequence sort first, as a bank prints them.
SEQUENCE_KEY = func.coalesce(Transaction.sequence, -1)
# Rows of a document still being loaded in slices are not part of the ledger yet.
COMMITTED = committed_rows(Transaction.source_document_id)
ACCOUNT_TRANSACTIONS = CursorCodec("account_transactions", TimeSeqIdKey)


def _statement_key(row: Row[Transaction, str, str]) -> TimeSeqIdKey:
    last = row[0]
    return TimeSeqIdKey(last.value_time, -1 if last.sequence is None else last.sequence, last.id)


def _after_statement_key(key: TimeSeqIdKey) -> ColumnElement[bool]:
    # The value time on its own first: a plain range on it, which an index can serve.
    return or_(
        Transaction.value_time > key.at,
        and_(
            Transaction.value_time == key.at,
            tuple_(SEQUENCE_KEY, Transaction.id) > (key.seq, key.id),
        ),
    )


STATEMENT_ORDER: Keyset[TimeSeqIdKey, Row[Transaction, str, str]] = Keyset(
    ACCOUNT_TRANSACTIONS,
    (Transaction.value_time, SEQUENCE_KEY, Transaction.id),
    _statement_key,
    after=_after_statement_key,
)


def visible_transactions(compartments: Compartments) -> ColumnElement[bool]:
    """The transaction domain's need-to-know test: the row's document is visible."""
    return visible_rows(Transaction.source_document_id, compartments)


# Totals count what the engine traces: a confirmed duplicate or a superseded record would count
# one transfer twice (its row stays listed, marked by its history).
_IN_LEDGER = in_ledger(table_of(Transaction).c.id)


def _totals(direction: str, column: str) -> Select[str, str, int, int, datetime, datetime]:
    t = table_of(Transaction)
    return (
        select(
            literal(direction).label("direction"),
            t.c.currency,
            func.count(),
            func.sum(t.c.amount_minor),
            func.min(t.c.value_time),
            func.max(t.c.value_time),
        )
        .where(t.c[column] == bindparam("account"), COMMITTED, _IN_LEDGER)
        .group_by(t.c.currency)
    )


# One Core statement, made once: an account's totals are read on every account request.
_TOTALS: CompoundSelect[str, str, int, int, datetime, datetime] = union_all(
    _totals("in", "to_account_id"), _totals("out", "from_account_id")
)


def _visible_totals(
    compartments: Compartments,
) -> CompoundSelect[str, str, int, int, datetime, datetime]:
    """The totals statement, narrowed to the caller's visible documents unless they see all."""
    if compartments.every:
        return _TOTALS
    visible = visible_rows(table_of(Transaction).c.source_document_id, compartments)
    return union_all(
        _totals("in", "to_account_id").where(visible),
        _totals("out", "from_account_id").where(visible),
    )


class TransactionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _with_keys(self, compartments: Compartments = EVERY) -> Select[Transaction, str, str]:
        stmt = (
            select(Transaction, FromAccount.key, ToAccount.key)
            .join(FromAccount, FromAccount.id == Transaction.from_account_id)
            .join(ToAccount, ToAccount.id == Transaction.to_account_id)
            .where(COMMITTED)
        )
        return stmt if compartments.every else stmt.where(visible_transactions(compartments))

    def get(
        self, transaction_id: int, compartments: Compartments = EVERY
    ) -> Row[Transaction, str, str] | None:
        return self.session.execute(
            self._with_keys(compartments).where(Transaction.id == transaction_id)
        ).first()

    def get_by_engine_id(
        self, engine_id: str, compartments: Compartments = EVERY
    ) -> Row[Transaction, str, str] | None:
        return self.session.execute(
            self._with_keys(compartments).where(Transaction.engine_id == engine_id)
        ).first()

    def by_external_id(
        self, external_id: str, compartments: Compartments = EVERY, *, limit: int = 2
    ) -> list[Row[Transaction, str, str]]:
        """Visible rows stored under `external_id` (one per compartment at most), by id."""
        stmt = self._with_keys(compartments).where(Transaction.external_id == external_id)
        return list(self.session.execute(stmt.order_by(Transaction.id).limit(limit)))

    def source_of(self, engine_id: str) -> str | None:
        return self.session.scalar(
            select(Transaction.source_document_id).where(
                Transaction.engine_id == engine_id, COMMITTED
            )
        )

    def taken_in(self, document_id: str, case_id: int | None, *, limit: int) -> list[str]:
        """External ids of the document's rows that `case_id`'s compartment (None: the shared
        pool) already holds under another document."""
        other = aliased(Transaction)
        qualified = Transaction.external_id + suffix_of(case_id)
        stmt = (
            select(Transaction.external_id)
            .where(
                Transaction.source_document_id == document_id,
                exists().where(
                    other.engine_id == qualified, other.source_document_id != document_id
                ),
            )
            .order_by(Transaction.external_id)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def requalify(self, document_id: str, case_id: int | None) -> None:
        """Give the document's rows the engine ids of `case_id`'s compartment."""
        self.session.execute(
            update(Transaction)
            .where(Transaction.source_document_id == document_id)
            .values(engine_id=Transaction.external_id + suffix_of(case_id)),
            execution_options={"synchronize_session": False},
        )

    def account_keys_of(self, document_id: str) -> set[str]:
        """The keys of the accounts a document's transactions debit or credit."""
        ends = union(
            select(Transaction.from_account_id).where(
                Transaction.source_document_id == document_id
            ),
            select(Transaction.to_account_id).where(Transaction.source_document_id == document_id),
        ).subquery()
        stmt = select(Account.key).where(Account.id.in_(select(ends.c[0])))
        return set(self.session.scalars(stmt))

    def ids_by_engine_id(self, engine_ids: list[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for chunk in in_chunks(engine_ids):
            stmt = select(
                Transaction.engine_id, Transaction.id, Transaction.source_document_id
            ).where(Transaction.engine_id.in_(chunk), COMMITTED)
            found.update((eid, (tid, doc)) for eid, tid, doc in self.session.execute(stmt))
        return found

    def by_external_ids(self, external_ids: list[str]) -> list[tuple[int, str, str, str]]:
        """(id, external id, engine id, source document id) of the rows stored under
        `external_ids`, in every compartment, by id."""
        found: list[tuple[int, str, str, str]] = []
        for chunk in in_chunks(external_ids):
            stmt = select(
                Transaction.id,
                Transaction.external_id,
                Transaction.engine_id,
                Transaction.source_document_id,
            ).where(Transaction.external_id.in_(chunk), COMMITTED)
            found.extend((t, x, e, d) for t, x, e, d in self.session.execute(stmt))
        return sorted(found)

    def first_refiling_after(self, refilings: int | None, at: datetime) -> int | None:
        """The id of the first refiling recorded after the `refilings` first ones (refilings
        are only added, in id order under the filing lock), or, without that count, after
        `at`; None when there is none."""
        ids = select(CompartmentChange.id).order_by(CompartmentChange.id)
        if refilings is None:
            ids = ids.where(CompartmentChange.changed_at > at)
        else:
            ids = ids.offset(refilings)
        return self.session.scalar(ids.limit(1))

    def filings_of(self, document_ids: list[str]) -> list[tuple[int, str, int | None]]:
        """(refiling, document, case it was moved from) of each refiling of these documents,
        oldest first."""
        change = CompartmentChange
        columns = (change.id, change.source_document_id, change.from_case_id)
        found: list[tuple[int, str, int | None]] = []
        for chunk in in_chunks(document_ids):
            rows = self.session.execute(select(*columns).where(columns[1].in_(chunk)))
            found.extend((i, d, f) for i, d, f in rows)
        return sorted(found)

    def page_for_account(
        self,
        account_id: int,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: TimeSeqIdKey | None,
        compartments: Compartments = EVERY,
    ) -> tuple[list[Row[Transaction, str, str]], str | None]:
        stmt = self._with_keys(compartments).where(
            or_(Transaction.from_account_id == account_id, Transaction.to_account_id == account_id)
        )
        if start is not None:
            stmt = stmt.where(Transaction.value_time >= start)
        if end is not None:
            stmt = stmt.where(Transaction.value_time < end)
        return page(self.session, stmt, STATEMENT_ORDER, limit=limit, after=after, scalars=False)

    def totals_for_account(
        self, account_id: int, compartments: Compartments = EVERY
    ) -> list[tuple[str, str, int, int, datetime, datetime]]:
        """(direction, currency, count, sum of minor units, first, last) per direction/currency."""
        rows = self.session.execute(_visible_totals(compartments), {"account": account_id})
        return [(d, cur, int(n), int(total), lo, hi) for d, cur, n, total, lo, hi in rows]
