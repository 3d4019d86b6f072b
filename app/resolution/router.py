from typing import Annotated

from fastapi import APIRouter, Query

from app.auth import LedgerReader, RecordJudge
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import PartyRefPath
from app.party import service as party_service
from app.resolution import service
from app.resolution.schemas import CandidateList, SameAsIn, SameAsRead

# Party keys may hold a slash: `{party:party_key}` (app.inputs) takes them but never these
# routes' suffixes, so that a suffix is never read as part of a key.
router = APIRouter(prefix="/api/v1/parties", tags=["parties"])


@router.get("/{party:party_key}/candidates", responses=problems(403, 404, 422))
def list_party_candidates(
    party: PartyRefPath,
    session: SessionDep,
    actor: LedgerReader,
    compartments: CompartmentsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many.")] = 20,
) -> CandidateList:
    """List parties that are probably the same person or entity, with score and reasons."""
    found = service.party_candidates(
        session, party, actor=actor, limit=limit, compartments=compartments
    )
    return CandidateList.model_validate(found)


@router.get("/{party:party_key}/same-as", responses=problems(403, 404, 422))
def get_same_as(
    party: PartyRefPath, session: SessionDep, actor: LedgerReader, compartments: CompartmentsDep
) -> SameAsRead:
    """Get the parties linked as one with this party, and every decision naming it."""
    found = party_service.resolve_party(session, party, compartments)
    return SameAsRead.model_validate(party_service.same_as(session, found, compartments))


@router.post("/{party:party_key}/same-as", status_code=201, responses=problems(403, 404, 409, 422))
def link_same_as(
    party: PartyRefPath,
    body: SameAsIn,
    session: SessionDep,
    actor: RecordJudge,
    compartments: CompartmentsDep,
) -> SameAsRead:
    """Link two parties as one person or entity, with a reason (never done by itself)."""
    return _decided(session, (party, body), actor, compartments, linked=True)


@router.post("/{party:party_key}/same-as/undo", responses=problems(403, 404, 409, 422))
def undo_same_as(
    party: PartyRefPath,
    body: SameAsIn,
    session: SessionDep,
    actor: RecordJudge,
    compartments: CompartmentsDep,
) -> SameAsRead:
    """Undo a link between two parties, with a reason; both decisions stay on record."""
    return _decided(session, (party, body), actor, compartments, linked=False)


def _decided(
    session: SessionDep,
    asked: tuple[str, SameAsIn],
    actor: RecordJudge,
    compartments: CompartmentsDep,
    *,
    linked: bool,
) -> SameAsRead:
    party, body = asked
    return SameAsRead.model_validate(
        party_service.decide_same_as(
            session,
            (party, body.other),
            linked=linked,
            reason=body.reason,
            actor=actor,
            compartments=compartments,
        )
    )
