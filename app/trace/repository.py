from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from app.db import table_of
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

    def add_finished(self, run: TraceRun) -> None:
        """Insert a run that finished before it was ever stored (a Core INSERT: it never
        changes, so it does not join the session)."""
        table = table_of(TraceRun)
        self.session.execute(insert(table), [{c.key: getattr(run, c.key) for c in table.columns}])

    def add_frames(self, trace_id: str, frames: dict[str, bytes]) -> None:
        # A Core executemany: compiled once and cached (a multi-row VALUES is compiled anew
        # every time), one sqlite3 executemany, and one pipelined batch on psycopg.
        rows = [{"trace_id": trace_id, "name": name, "data": data} for name, data in frames.items()]
        self.session.execute(insert(table_of(TraceResultFrame)), rows)

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
        """Newest first; `visible_to` (creator id, case ids) limits it to what one caller sees:
        the traces of those cases, and the caller's own traces that belong to no case."""
        stmt = select(TraceRun).order_by(TraceRun.created_at.desc(), TraceRun.id.desc())
        if visible_to is not None:
            creator, case_ids = visible_to
            own = and_(TraceRun.case_id.is_(None), TraceRun.created_by == creator)
            stmt = stmt.where(or_(own, TraceRun.case_id.in_(case_ids)))
        if after is not None:
            stmt = stmt.where(tuple_(TraceRun.created_at, TraceRun.id) < after)
        return list(self.session.scalars(stmt.limit(limit + 1)))

    def of_case(self, case_id: int, *, limit: int) -> list[TraceRun]:
        """A case's runs, newest first."""
        stmt = select(TraceRun).where(TraceRun.case_id == case_id)
        stmt = stmt.order_by(TraceRun.created_at.desc(), TraceRun.id.desc())
        return list(self.session.scalars(stmt.limit(limit)))

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
