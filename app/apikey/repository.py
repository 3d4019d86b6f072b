from typing import Any

from sqlalchemy import Row, column, func, select, table
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey, KeyCompartment
from app.db import table_of


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def standing_by_hash(self, key_hash: str) -> list[Row[str, str, str, Any, Any, Any, Any]]:
        """What a request's key check needs: id, name, role, expires_at, revoked_at, and the
        cases whose compartments the key sees: `bound_case` (an ingest key's) and `member_case`,
        one row per case it is on (one row with None when it is on none).

        Plain columns, not an `ApiKey`: every request makes this check, and loading an ORM
        object costs a third more than the query itself. The memberships come in the same
        statement, so that a ledger read's compartments cost no query of their own and are
        still read at the moment of the request (a membership removed counts at once).
        """
        keys, bound = table_of(ApiKey), table_of(KeyCompartment)
        # The members table by name: the case domain depends on this one, not the reverse.
        members = table("case_members", column("case_id"), column("api_key_id"))
        stmt = (
            select(
                keys.c.id,
                keys.c.name,
                keys.c.role,
                keys.c.expires_at,
                keys.c.revoked_at,
                bound.c.case_id.label("bound_case"),
                members.c.case_id.label("member_case"),
            )
            # at most one bound case a key: the rows are one a membership
            .outerjoin(bound, bound.c.api_key_id == keys.c.id)
            .outerjoin(members, members.c.api_key_id == keys.c.id)
            .where(keys.c.key_hash == key_hash)
        )
        return list(self.session.execute(stmt))

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
