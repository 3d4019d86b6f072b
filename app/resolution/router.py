from typing import Annotated

from fastapi import APIRouter, Query

from app.compartments import JudgeView, LedgerView, View
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
    view: LedgerView,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many.")] = 20,
) -> CandidateList:
    """List parties that are probably the same person or entity, with score and reasons."""
    found = service.party_candidates(
        view.session, party, actor=view.actor, limit=limit, compartments=view.compartments
    )
    return CandidateList.model_validate(found)


@router.get("/{party:party_key}/same-as", responses=problems(403, 404, 422))
def get_same_as(party: PartyRefPath, view: LedgerView) -> SameAsRead:
    """Get the parties linked as one with this party, and every decision naming it."""
    found = party_service.resolve_party(view.session, party, view.compartments)
    return SameAsRead.model_validate(party_service.same_as(view.session, found, view.compartments))


@router.post("/{party:party_key}/same-as", status_code=201, responses=problems(403, 404, 409, 422))
def link_same_as(party: PartyRefPath, body: SameAsIn, judge: JudgeView) -> SameAsRead:
    """Link two parties as one person or entity, with a reason (never done by itself)."""
    return _decided(judge, party, body, linked=True)


@router.post("/{party:party_key}/same-as/undo", responses=problems(403, 404, 409, 422))
def undo_same_as(party: PartyRefPath, body: SameAsIn, judge: JudgeView) -> SameAsRead:
    """Undo a link between two parties, with a reason; both decisions stay on record."""
    return _decided(judge, party, body, linked=False)


def _decided(judge: View, party: str, body: SameAsIn, *, linked: bool) -> SameAsRead:
    return SameAsRead.model_validate(
        party_service.decide_same_as(
            judge.session,
            (party, body.other),
            linked=linked,
            reason=body.reason,
            actor=judge.actor,
            compartments=judge.compartments,
        )
    )
