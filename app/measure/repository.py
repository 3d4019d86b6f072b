from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from app.asset.models import Asset
from app.case.models import Case
from app.db import in_chunks
from app.measure.models import Measure
from app.pagination import CursorCodec, IdKey, Keyset, page

MEASURES = CursorCodec("measures", IdKey)
# An asset's events are numbered 1, 2, ... by `seq`: the history pages by that number.
HISTORY: Keyset[IdKey, Measure] = Keyset(MEASURES, (Measure.seq,), lambda m: IdKey(m.seq))


class MeasureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, measure: Measure) -> Measure:
        self.session.add(measure)
        self.session.flush()
        return measure

    def get(self, asset_id: int, seq: int) -> Measure | None:
        stmt = select(Measure).where(Measure.asset_id == asset_id, Measure.seq == seq)
        return self.session.scalar(stmt)

    def by_asset_seq(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Measure]:
        found: dict[tuple[int, int], Measure] = {}
        for chunk in in_chunks(keys):
            stmt = select(Measure).where(tuple_(Measure.asset_id, Measure.seq).in_(chunk))
            found.update(((m.asset_id, m.seq), m) for m in self.session.scalars(stmt))
        return found

    def history(
        self, asset_id: int, *, limit: int, after: IdKey | None
    ) -> tuple[list[Measure], str | None]:
        stmt = select(Measure).where(Measure.asset_id == asset_id)
        return page(self.session, stmt, HISTORY, limit=limit, after=after)

    def latest_into(self, asset_id: int, status: str) -> Measure | None:
        stmt = (
            select(Measure)
            .where(Measure.asset_id == asset_id, Measure.to_status == status)
            .order_by(Measure.seq.desc())
            .limit(1)
        )
        return self.session.scalar(stmt)

    def latest_of_types(self, asset_id: int, types: list[str]) -> Measure | None:
        stmt = (
            select(Measure)
            .where(Measure.asset_id == asset_id, Measure.measure_type.in_(types))
            .order_by(Measure.seq.desc())
            .limit(1)
        )
        return self.session.scalar(stmt)

    def recent(self, asset_ids: Iterable[int], *, limit: int) -> list[Measure]:
        """The latest moves of the given assets, newest first."""
        stmt = select(Measure).where(Measure.asset_id.in_(sorted(set(asset_ids))))
        return list(self.session.scalars(stmt.order_by(Measure.id.desc()).limit(limit)))

    def orders_between(
        self, first: date, last: date, *, statuses: list[str]
    ) -> list[tuple[Measure, Asset, list[str]]]:
        """Moves into the given statuses decided (or, with no decision date, recorded) within
        [first, last], each with its asset and its case's predicate offences."""
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        stmt = (
            select(Measure, Asset, Case.predicate_offences)
            .join(Asset, Asset.id == Measure.asset_id)
            .join(Case, Case.id == Asset.case_id)
            .where(Measure.to_status.in_(statuses))
            .where(
                or_(
                    Measure.decision_on.between(first, last),
                    and_(
                        Measure.decision_on.is_(None),
                        Measure.recorded_at >= start,
                        Measure.recorded_at < end,
                    ),
                )
            )
            .order_by(Measure.id)
        )
        return [(m, a, offences) for m, a, offences in self.session.execute(stmt)]
