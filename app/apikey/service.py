import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.apikey.models import ApiKey, KeyCompartment
from app.apikey.repository import ApiKeyRepository
from app.errors import InvalidInput, RecordNotFound
from app.principal import CaseReach, Principal, Role

KEY_PREFIX = "mt_"


class ApiKeyNotFound(RecordNotFound):
    code, title = "api_key_not_found", "API key not found"
    noun, key = "API key", "key_id"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# The rows that decide what a key may do and see (app.principal_cache): the key, the case an
# ingest key is bound to, and its case memberships (the case domain's table, by name, as the
# repository reads it).
STANDING_TABLES = (ApiKey.__tablename__, KeyCompartment.__tablename__, "case_members")


def principal_for(session: Session, secret: str) -> Principal | None:
    rows = ApiKeyRepository(session).standing_by_hash(hash_key(secret))
    now = datetime.now(UTC)
    if not rows or (key := rows[0]).revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= now:
        return None
    cases = {r.member_case for r in rows if r.member_case is not None}
    if key.bound_case is not None:
        cases.add(key.bound_case)
    return Principal(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        reach=CaseReach(frozenset(cases), bound=key.bound_case),
        expires_at=key.expires_at,
    )


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    created_by: str | None,
    expires_at: datetime | None = None,
    case_id: int | None = None,
) -> tuple[ApiKey, str]:
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must lie in the future", field="expires_at")
    _check_binding(session, role, case_id)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKeyRepository(session).add(
        ApiKey(
            id=secrets.token_hex(8),
            name=name,
            role=str(role),
            key_hash=hash_key(secret),
            created_at=now,
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    if case_id is not None:
        key.compartment = KeyCompartment(api_key_id=key.id, case_id=case_id)
    session.commit()
    return key, secret


def _check_binding(session: Session, role: Role, case_id: int | None) -> None:
    """Only ingest keys are bound to a case (members are put on cases instead)."""
    if case_id is None:
        return
    if role is not Role.INGEST:
        raise InvalidInput(
            "only an ingest key can be bound to a case; put other keys on the case as members",
            field="case_id",
        )
    if not ApiKeyRepository(session).case_exists(case_id):
        raise InvalidInput(f"no case with id {case_id}", field="case_id")


def get_key(session: Session, key_id: str) -> ApiKey:
    if (key := ApiKeyRepository(session).get(key_id)) is None:
        raise ApiKeyNotFound(key_id)
    return key


def revoke_key(session: Session, key_id: str) -> ApiKey:
    key = ApiKeyRepository(session).get(key_id)
    if key is None:
        raise ApiKeyNotFound(key_id)
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.commit()
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return ApiKeyRepository(session).list_all()


def bootstrap_admin(session: Session) -> str | None:
    """On an empty database, create the first admin key and return its secret (else None)."""
    if ApiKeyRepository(session).count() > 0:
        return None
    _, secret = create_key(session, name="bootstrap admin", role=Role.ADMIN, created_by=None)
    return secret
