from fastapi import APIRouter, Response

from app.auth import CaseWriter
from app.deps import SessionDep
from app.errors import problems
from app.inputs import TraceIdPath
from app.proposal import service
from app.proposal.schemas import ProposalCreate, ProposalResult
from app.trace.runtime import TraceRuntimeDep

router = APIRouter(prefix="/api/v1/traces", tags=["traces"])


@router.post("/{trace_id}/proposals", status_code=201, responses=problems(403, 404, 409, 422))
def create_trace_proposals(
    trace_id: TraceIdPath,
    body: ProposalCreate,
    response: Response,
    session: SessionDep,
    actor: CaseWriter,
    runtime: TraceRuntimeDep,
) -> ProposalResult:
    """Propose a trace's holdings for freezing: each becomes an asset of the case in TRACED.

    Each account holding taint at or above `min_amount` becomes an asset (a bank balance, or a
    crypto holding for a wallet) valued at the taint held, linked to the trace and to the
    transactions that carried the taint there. Skipped, with the reason: holdings already
    proposed from this trace to this case (the call is idempotent: 200 when it created
    nothing), accounts under an active measure in the case, cash and external accounts.
    A trace that read records filed in another case is refused (409
    `trace_reads_other_compartments`, nothing created): every member of the case would read
    figures worked out from records they may not all see.
    """
    outcome = service.propose_freezing(session, trace_id, body, actor=actor, runtime=runtime)
    if not outcome["created"]:
        response.status_code = 200
    return ProposalResult.model_validate(outcome)
