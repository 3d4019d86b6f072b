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
    """Confirm (the later record leaves the engine's ledger) or reject, once, with a reason."""
    repository = DuplicateRepository(session)
    match = repository.get(match_id, compartments)
    if match is None:
        raise DuplicateNotFound(match_id)
    if match.state != PROBABLE:
        raise DuplicateDecided(match)
    match.state = CONFIRMED if confirm else REJECTED
    match.decided_by, match.decided_at, match.reason = actor.id, datetime.now(UTC), reason
    if confirm:
        # Both records keep their provenance; only the engine's view drops the later one.
        repository.exclude(match.transaction_id)
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
