"""The deadlines of the caller's cases in one list, soonest first: measures lapsing (the
measure domain's) and interlocutory sales due (the realisation domain's), merged by due time.

Each kind is read a page at a time in its own keyset order, (due, id); the merged order is
(due, kind, id), kinds in the order of `KINDS`, and its cursor says where each kind resumes.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.case import service as case_service
from app.deadline.schemas import Deadline
from app.inputs import MAX_ID
from app.measure import deadlines, lapses
from app.measure.schemas import DeadlineRead
from app.pagination import CursorCodec, DuePage, DueWindow, TimeIdKey, TimeRankIdKey
from app.principal import Principal
from app.realisation import service as realisation_service
from app.realisation.schemas import SaleDeadlineRead

# At one instant, a measure lapsing comes before a sale due.
KINDS = ("measure_expiry", "sale_due")

CURSOR = CursorCodec("deadlines_of_every_kind", TimeRankIdKey)


def _key(row: DeadlineRead | SaleDeadlineRead) -> TimeRankIdKey:
    row_id = row.asset_id if isinstance(row, DeadlineRead) else row.sale_id
    return TimeRankIdKey(row.due_at, KINDS.index(row.kind), row_id)


def _resume(after: TimeRankIdKey | None, rank: int) -> TimeIdKey | None:
    """Where the kind of `rank` resumes its own (due, id) order after the merged key `after`."""
    if after is None:
        return None
    if rank == after.rank:
        return TimeIdKey(after.at, after.id)
    # A later kind starts at the instant itself (ids are >= 1); an earlier one is done with it.
    return TimeIdKey(after.at, 0 if rank > after.rank else MAX_ID)


def page_deadlines(
    session: Session,
    *,
    actor: Principal,
    due: DuePage,
    now: datetime | None = None,
    case_id: int | None = None,
) -> tuple[list[Deadline], str | None]:
    """Deadlines of the caller's cases (or of one case it may see) falling within
    `due.within_days` from today (0: today), and those already passed and still open."""
    now = now or datetime.now(UTC)
    limit = due.limit
    until = deadlines.due_until(due.within_days, now)
    case_ids = (
        [case_id] if case_id is not None else case_service.visible_case_ids(session, actor=actor)
    )
    after = CURSOR.decode(due.cursor)
    window = DueWindow(until, case_ids, limit)
    measures, more_measures = lapses.measure_deadlines(
        session, replace(window, after=_resume(after, 0)), now=now
    )
    sales, more_sales = realisation_service.sales_due(
        session, replace(window, after=_resume(after, 1))
    )
    rows: Sequence[DeadlineRead | SaleDeadlineRead] = sorted([*measures, *sales], key=_key)
    more = more_measures or more_sales or len(rows) > limit
    shown = rows[:limit]
    next_cursor = CURSOR.encode(_key(shown[-1])) if more and shown else None
    return [Deadline(row) for row in shown], next_cursor
