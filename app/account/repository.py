from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.account.models import Account, AccountHolder


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, account_id: int) -> Account | None:
        return self.session.get(Account, account_id)

    def get_by_key(self, key: str) -> Account | None:
        return self.session.scalar(select(Account).where(Account.key == key))

    def by_keys(self, keys: Iterable[str]) -> dict[str, Account]:
        wanted = sorted(set(keys))
        found: dict[str, Account] = {}
        for start in range(0, len(wanted), 500):
            stmt = select(Account).where(Account.key.in_(wanted[start : start + 500]))
            found.update((a.key, a) for a in self.session.scalars(stmt))
        return found

    def add(self, account: Account) -> Account:
        self.session.add(account)
        return account

    def add_holder(self, holder: AccountHolder) -> None:
        self.session.add(holder)

    def held_by(self, party_id: int) -> list[AccountHolder]:
        stmt = (
            select(AccountHolder)
            .join(Account, Account.id == AccountHolder.account_id)
            .where(AccountHolder.party_id == party_id)
            .order_by(Account.key, AccountHolder.role)
        )
        return list(self.session.scalars(stmt))
