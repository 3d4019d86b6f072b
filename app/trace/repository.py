from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from app.trace.models import TraceResultFrame, TraceRun


class TraceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, trace_id: str) -> TraceRun | None:
        return self.session.get(TraceRun, trace_id)

    def add(self, run: TraceRun) -> TraceRun:
        self.session.add(run)
        self.session.flush()
        return run

    def add_frames(self, trace_id: str, frames: dict[str, bytes]) -> None:
        # One multi-row INSERT: an executemany is one round trip per frame on PostgreSQL.
        rows = [{"trace_id": trace_id, "name": name, "data": data} for name, data in frames.items()]
        self.session.execute(insert(TraceResultFrame).values(rows))

    def frames(self, trace_id: str, names: Iterable[str]) -> dict[str, bytes]:
        stmt = select(TraceResultFrame.name, TraceResultFrame.data).where(
            TraceResultFrame.trace_id == trace_id, TraceResultFrame.name.in_(list(names))
        )
        return {row.name: row.data for row in self.session.execute(stmt)}

    def page(
        self,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        visible_to: tuple[str, list[int]] | None,
    ) -> list[TraceRun]:
        """Newest first; `visible_to` (creator id, case ids) limits it to what one caller sees."""
        stmt = select(TraceRun).order_by(TraceRun.created_at.desc(), TraceRun.id.desc())
        if visible_to is not None:
            creator, case_ids = visible_to
            stmt = stmt.where(or_(TraceRun.created_by == creator, TraceRun.case_id.in_(case_ids)))
        if after is not None:
            stmt = stmt.where(tuple_(TraceRun.created_at, TraceRun.id) < after)
        return list(self.session.scalars(stmt.limit(limit + 1)))

    def mark_interrupted(self, now: datetime) -> int:
        """Runs left 'running' by a process that died: say so instead of leaving them hanging."""
        result = self.session.execute(
            update(TraceRun)
            .where(TraceRun.status == "running")
            .values(
                status="failed",
                finished_at=now,
                error={"code": "interrupted", "detail": "the service stopped during the run"},
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
