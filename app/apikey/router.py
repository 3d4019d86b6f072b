from fastapi import APIRouter

from app.apikey import service
from app.apikey.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.auth import KeyManager
from app.deps import SessionDep
from app.errors import problems
from app.inputs import KeyIdPath

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", status_code=201, responses=problems(403, 422))
def create_api_key(body: ApiKeyCreate, session: SessionDep, actor: KeyManager) -> ApiKeyCreated:
    """Create an API key with a role; the secret is returned this once only."""
    key, secret = service.create_key(
        session,
        name=body.name,
        role=body.role,
        created_by=actor.id,
        expires_at=body.expires_at,
        case_id=body.case_id,
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(key).model_dump(), "key": secret}
    )


@router.get("", responses=problems(403))
def list_api_keys(session: SessionDep, actor: KeyManager) -> list[ApiKeyRead]:
    """List API keys (never their secrets)."""
    return [ApiKeyRead.model_validate(k) for k in service.list_keys(session)]


@router.post("/{key_id}/revoke", responses=problems(403, 404, 422))
def revoke_api_key(key_id: KeyIdPath, session: SessionDep, actor: KeyManager) -> ApiKeyRead:
    """Revoke an API key; it answers 401 from then on."""
    return ApiKeyRead.model_validate(service.revoke_key(session, key_id))
