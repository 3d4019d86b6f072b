from fastapi import APIRouter

from app.auth import LedgerReader
from app.deps import SessionDep
from app.errors import problems
from app.inputs import PartyIdPath
from app.party import service
from app.party.schemas import PartyRead

router = APIRouter(prefix="/api/v1/parties", tags=["parties"])


@router.get("/{party_id}", responses=problems(403, 404))
def get_party(party_id: PartyIdPath, session: SessionDep, actor: LedgerReader) -> PartyRead:
    """Get one party (person or legal entity)."""
    return PartyRead.model_validate(service.get_party(session, party_id))
