from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, case, exists, select
from sqlalchemy.orm import Session

from app.account.models import (
    Account,
    AccountCorrection,
    AccountHolder,
    AccountStatement,
    visible_accounts,
)
from app.compartments import EVERY, Compartments
from app.db import by_key, in_chunks, table_of
from app.pagination import CursorCodec, IdKey, Keyset, page
from app.party.models import Party
from app.source.models import committed_rows, visible_rows
from app.source.statements import stated, take_back

# Core statements for the account read, the most frequent request: no ORM objects are built, and
# the statements are made once, so each request only binds its parameters.
_ACCOUNTS, _HOLDERS, _PARTIES = table_of(Account), table_of(AccountHolder), table_of(Party)
# `restated`: whether another document stated details of it (AccountStatement),
# asked in the same statement so that the read of an account no one restated costs nothing more.
_RESTATED = exists().where(AccountStatement.account_id == _ACCOUNTS.c.id).label("restated")
# `corrected`: whether any correction of it exists (whoever may see it), likewise.
_CORRECTED = exists().where(AccountCorrection.account_id == _ACCOUNTS.c.id).label("corrected")
_BY_ID = select(_ACCOUNTS, _RESTATED, _CORRECTED).where(_ACCOUNTS.c.id == bindparam("value"))
_BY_KEY = select(_ACCOUNTS, _RESTATED, _CORRECTED).where(_ACCOUNTS.c.key == bindparam("value"))
_HOLDER_ROWS = (
    select(
        _HOLDERS.c.party_id,
        _PARTIES.c.key.label("party_key"),
        _PARTIES.c.name,
        _PARTIES.c.kind,
        _HOLDERS.c.role,
    )
    .join(_PARTIES, _PARTIES.c.id == _HOLDERS.c.party_id)
    .where(_HOLDERS.c.account_id == bindparam("account"))
    .order_by(_HOLDERS.c.party_id, _HOLDERS.c.role)
)


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, account_id: int) -> Account | None:
        return self.session.get(Account, account_id)

    def get_by_key(self, key: str) -> Account | None:
        return self.session.scalar(select(Account).where(Account.key == key))

    def id_of(self, *, account_id: int | None = None, key: str | None = None) -> int | None:
        """The id of the account with this id or canonical key, if it exists."""
        column, value = (Account.id, account_id) if account_id is not None else (Account.key, key)
        return self.session.scalar(select(Account.id).where(column == value))

    def row(
        self,
        *,
        account_id: int | None = None,
        key: str | None = None,
        compartments: Compartments = EVERY,
    ) -> dict[str, Any] | None:
        """One account's columns, by id or by canonical key, if it exists for the caller; with
        `stated`: whether the document that created it (and stated its details) is visible;
        `restated`: whether any document stated details of it beside (`AccountStatement`);
        `corrected`: whether it has corrections (visible or not).
        One statement either way; the one made once serves those who see every compartment."""
        stmt, value = (_BY_ID, account_id) if account_id is not None else (_BY_KEY, key)
        if not compartments.every:
            stated = visible_rows(_ACCOUNTS.c.source_document_id, compartments)
            # `visible_accounts` names the same table: its tests apply to this one row.
            stmt = stmt.add_columns(stated.label("stated")).where(visible_accounts(compartments))
        found = self.session.execute(stmt, {"value": value}).mappings().first()
        if found is None:
            return None
        return {"stated": True, **found}

    def holder_rows(
        self, account_id: int, compartments: Compartments = EVERY
    ) -> list[dict[str, Any]]:
        stmt = _HOLDER_ROWS
        if not compartments.every:
            stmt = stmt.where(visible_rows(_HOLDERS.c.source_document_id, compartments))
            # A party another compartment's document brought is known here by its key alone
            # (`party_shown` false), unless the caller's documents stated its name, as
            # `service.holders_as_seen` and `party_service.party_details` tell it.
            seen = visible_rows(_PARTIES.c.source_document_id, compartments)
            name = case((seen, _PARTIES.c.name), else_=_PARTIES.c.key).label("name")
            stmt = stmt.with_only_columns(
                *(name if c.name == "name" else c for c in _HOLDER_ROWS.selected_columns),
                seen.label("party_shown"),
            )
        # A link two documents state is one link to a reader.
        rows = self.session.execute(stmt.distinct(), {"account": account_id}).mappings()
        return [dict(r) for r in rows]

    def visible(self, account_id: int, compartments: Compartments) -> bool:
        """Whether the account exists for the caller (`visible_accounts`)."""
        if compartments.every:
            return True
        stmt = select(Account.id).where(Account.id == account_id, visible_accounts(compartments))
        return self.session.scalar(stmt) is not None

    def visible_ids(self, ids: Iterable[int], compartments: Compartments) -> set[int]:
        """Those of `ids` whose accounts exist for the caller (`visible_accounts`)."""
        found: set[int] = set()
        for chunk in in_chunks(ids):
            stmt = select(Account.id).where(Account.id.in_(chunk), visible_accounts(compartments))
            found.update(self.session.scalars(stmt))
        return found

    def statements(
        self, ids: Iterable[int], compartments: Compartments = EVERY
    ) -> dict[int, list[dict[str, Any]]]:
        """The details visible documents stated of each of the accounts `ids`, oldest first."""
        return stated(self.session, AccountStatement.account_id, ids, compartments)

    def add_statement(self, statement: AccountStatement) -> None:
        self.session.add(statement)

    def take_back(self, document_id: str) -> None:
        """Clear what statements wrote on rows the document created or it wrote on others'."""
        take_back(self.session, AccountStatement.account_id, Account, document_id)

    def by_keys(self, keys: Iterable[str]) -> dict[str, Account]:
        return by_key(self.session, Account, Account.key, keys)

    def add(self, account: Account) -> Account:
        self.session.add(account)
        return account

    def add_holder(self, holder: AccountHolder) -> None:
        self.session.add(holder)

    def held_by(self, party_id: int, compartments: Compartments = EVERY) -> list[AccountHolder]:
        stmt = (
            select(AccountHolder)
            .join(Account, Account.id == AccountHolder.account_id)
            .where(AccountHolder.party_id == party_id)
            .order_by(Account.key, AccountHolder.role)
        )
        if not compartments.every:
            stmt = stmt.where(visible_rows(AccountHolder.source_document_id, compartments))
        return list(self.session.scalars(stmt))

    def page_flagged(
        self, flag: str, *, limit: int, after: IdKey | None, compartments: Compartments = EVERY
    ) -> tuple[list[Account], str | None]:
        """Accounts carrying `flag`, oldest first, among committed documents' rows; the flag is
        what the creating document stated, so that document must be visible."""
        stmt = select(Account).where(
            Account.number_flag == flag, committed_rows(Account.source_document_id)
        )
        if not compartments.every:
            stmt = stmt.where(visible_rows(Account.source_document_id, compartments))
        return page(self.session, stmt, FLAGGED, limit=limit, after=after)


FLAGGED: Keyset[IdKey, Account] = Keyset(
    CursorCodec("flagged_accounts", IdKey), (Account.id,), lambda a: IdKey(a.id)
)
