"""The party record: a party with its accounts and the caller's cases it appears in.

Served by the case package, which knows parties and accounts; the party package knows neither
accounts nor cases.
"""

from fastapi import APIRouter

from app.account import service as account_service
from app.auth import LedgerReader
from app.case import service as case_service
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import PartyRefPath
from app.party import service as party_service
from app.party.schemas import PartyAccount, PartyCase, PartyRead, PartyRecord

router = APIRouter(prefix="/api/v1/parties", tags=["parties"])


@router.get("/{party:party_key}", responses=problems(403, 404, 422))
def get_party(
    party: PartyRefPath, session: SessionDep, actor: LedgerReader, compartments: CompartmentsDep
) -> PartyRecord:
    """Get a party by key (e.g. `person:DE-ID-L01X00T47`) or id, with its accounts and cases."""
    found = party_service.resolve_party(session, party, compartments)
    return PartyRecord(
        **PartyRead.model_validate(
            party_service.party_details(session, found, compartments)
        ).model_dump(),
        accounts=[
            PartyAccount.model_validate(a)
            for a in account_service.accounts_of_party(session, found.id, compartments)
        ],
        cases=[
            PartyCase.model_validate(c)
            for c in case_service.cases_of_party(session, found.id, actor=actor)
        ],
    )
