"""Duplicate use cases: list the matches, confirm or reject one, warn a trace about the rest."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.compartments import EVERY, Compartments
from app.errors import Conflict, RecordNotFound
from app.principal import Principal
from app.transaction import service as transaction_service
from app.transaction.duplicates import DUPLICATES, DuplicateRepository
from app.transaction.models import CONFIRMED, PROBABLE, REJECTED, DuplicateMatch


class DuplicateNotFound(RecordNotFound):
    code, title = "duplicate_not_found", "Duplicate not found"
    noun, key = "probable duplicate", "duplicate_id"


class DuplicateDecided(Conflict):
    code, title = "duplicate_decided", "Duplicate already decided"

    def __init__(self, match: DuplicateMatch) -> None:
        super().__init__(
            f"duplicate {match.id} was {match.state} on {match.decided_at:%Y-%m-%d}; "
            "a decision is not changed",
            duplicate_id=match.id,
            state=match.state,
        )


class DuplicateAcrossCases(Conflict):
    code, title = "duplicate_across_cases", "Duplicate across two cases"

    def __init__(self, match: DuplicateMatch, cases: list[int]) -> None:
        super().__init__(
            f"the two records of duplicate {match.id} are filed in two cases ({cases[0]} and "
            f"{cases[1]}): confirming would take one case's record out of the traces of members "
            "who cannot see the other's; file one of the documents in the shared pool first",
            duplicate_id=match.id,
        )


def _record_to_exclude(repository: DuplicateRepository, match: DuplicateMatch) -> int:
    """The record a confirmed match takes out of the ledger: the later one, unless that would
    take a record out of the traces of readers who cannot see the one kept. A pool record
    matched by a case's copy stays (the case's copy leaves: the case's members see both);
    records of two cases are refused."""
    cases = repository.cases_of([match.transaction_id, match.original_id])
    later, original = cases.get(match.transaction_id), cases.get(match.original_id)
    if later == original or (later is not None and original is None):
        return match.transaction_id
    if later is None or original is None:
        return match.original_id
    raise DuplicateAcrossCases(match, sorted([later, original]))


def _read(session: Session, match: DuplicateMatch) -> dict[str, Any]:
    return {
        "id": match.id,
        "state": match.state,
        "detected_at": match.detected_at,
        "transaction": transaction_service.get_transaction(session, str(match.transaction_id)),
        "original": transaction_service.get_transaction(session, str(match.original_id)),
        "decided_by": match.decided_by,
        "decided_at": match.decided_at,
        "reason": match.reason,
    }


def page_duplicates(
    session: Session,
    *,
    state: str | None,
    limit: int,
    cursor: str | None,
    compartments: Compartments = EVERY,
) -> tuple[list[dict[str, Any]], str | None]:
    """Matches in the order they were found (`state` None: all of them), among those whose
    two records the caller may see."""
    matches, next_cursor = DuplicateRepository(session).page(
        state=state, limit=limit, after=DUPLICATES.decode(cursor), compartments=compartments
    )
    return [_read(session, m) for m in matches], next_cursor


def decide_duplicate(
    session: Session,
    match_id: int,
    *,
    confirm: bool,
    reason: str,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    """Confirm (the later record leaves the engine's ledger, or the case's copy of a pool
    record: `_record_to_exclude`) or reject, once, with a reason."""
    repository = DuplicateRepository(session)
    match = repository.get(match_id, compartments)
    if match is None:
        raise DuplicateNotFound(match_id)
    if match.state != PROBABLE:
        raise DuplicateDecided(match)
    excluded = _record_to_exclude(repository, match) if confirm else None
    match.state = CONFIRMED if confirm else REJECTED
    match.decided_by, match.decided_at, match.reason = actor.id, datetime.now(UTC), reason
    if excluded is not None:
        # Both records keep their provenance; only the engine's view drops one of them.
        repository.exclude(excluded)
    session.flush()
    read = _read(session, match)
    session.commit()
    return read


def unresolved_among(
    session: Session, external_ids: Iterable[str], compartments: Compartments = EVERY
) -> int:
    """How many undecided matches whose two records `compartments` may see involve any of
    these transactions (by engine id, as a trace's flows name them)."""
    pairs = DuplicateRepository(session).probable_pairs(compartments)
    if not pairs:
        return 0
    used = set(external_ids)
    return sum(1 for later, original in pairs if later in used or original in used)
