from typing import Any

from sqlalchemy import Row, column, func, select, table
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.db import table_of


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def standing_by_hash(self, key_hash: str) -> Row[str, str, str, Any, Any] | None:
        """What a request's key check needs: id, name, role, expires_at, revoked_at.

        Plain columns, not an `ApiKey`: every request makes this check, and loading an ORM
        object costs a third more than the query itself.
        """
        table = table_of(ApiKey)
        stmt = select(
            table.c.id, table.c.name, table.c.role, table.c.expires_at, table.c.revoked_at
        ).where(table.c.key_hash == key_hash)
        return self.session.execute(stmt).first()

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(ApiKey)) or 0

    def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        self.session.flush()
        return key

    def case_exists(self, case_id: int) -> bool:
        # The cases table by name: the case domain depends on this one, not the reverse.
        cases = table("cases", column("id"))
        return self.session.scalar(select(cases.c.id).where(cases.c.id == case_id)) is not None

    def list_all(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
