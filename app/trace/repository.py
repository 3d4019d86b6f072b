import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, text, update
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.db import in_chunks, table_of
from app.pagination import CursorCodec, Keyset, TimeTextKey, page
from app.source.models import SourceDocument
from app.trace.models import TraceResultFrame, TraceRun, TraceRunAccount, TraceRunCompartment

TRACES = CursorCodec("traces", TimeTextKey)
# A trace's reached accounts, in one statement whatever their number (`add_accounts`).
_ADD_ACCOUNTS = {
    "postgresql": "INSERT INTO trace_run_accounts (trace_id, account_hash) "
    "SELECT :trace_id, unnest(CAST(:hashes AS BIGINT[]))",
    "sqlite": "INSERT INTO trace_run_accounts (trace_id, account_hash) "
    "SELECT :trace_id, value FROM json_each(:hashes)",
}


def account_hashes(keys: Iterable[str]) -> list[int]:
    """Each distinct key's 64-bit hash (signed, as BIGINT holds it), sorted: stable across
    processes and versions, unlike Python's or Polars' own."""
    return sorted(
        {
            int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True)
            for k in keys
        }
    )


NEWEST_FIRST: Keyset[TimeTextKey, TraceRun] = Keyset(
    TRACES,
    (TraceRun.created_at, TraceRun.id),
    lambda run: TimeTextKey(run.created_at, run.id),
    descending=True,
)


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

    def set_compartments(self, trace_id: str, case_ids: list[int]) -> None:
        """The cases whose compartments a run read (replacing what it had)."""
        self.session.execute(
            delete(TraceRunCompartment).where(TraceRunCompartment.trace_id == trace_id)
        )
        if case_ids:
            rows = [{"trace_id": trace_id, "case_id": c} for c in case_ids]
            self.session.execute(insert(table_of(TraceRunCompartment)), rows)

    def add_compartment(self, trace_ids: list[str], case_id: int) -> None:
        """Add a case to what runs read, to those that lack it."""
        have = set(
            self.session.scalars(
                select(TraceRunCompartment.trace_id).where(
                    TraceRunCompartment.case_id == case_id,
                    TraceRunCompartment.trace_id.in_(trace_ids),
                )
            )
        )
        rows = [{"trace_id": t, "case_id": case_id} for t in trace_ids if t not in have]
        if rows:
            self.session.execute(insert(table_of(TraceRunCompartment)), rows)

    def add_accounts(self, trace_id: str, hashes: list[int]) -> None:
        """Index the accounts a run reached (`TraceRunAccount`: their `account_hashes`, worked
        out before the write transaction), in one statement."""
        if not hashes:
            return
        dialect = self.session.get_bind().dialect.name
        given: object = hashes if dialect == "postgresql" else json.dumps(hashes)
        self.session.execute(text(_ADD_ACCOUNTS[dialect]), {"trace_id": trace_id, "hashes": given})

    def reaching(self, at: datetime, keys: Iterable[str]) -> set[str]:
        """The ids of runs with a result, started at `at` or later, that reached one of the
        accounts `keys`."""
        found: set[str] = set()
        for chunk in in_chunks(account_hashes(keys)):
            stmt = (
                select(TraceRunAccount.trace_id)
                .join(TraceRun, TraceRun.id == TraceRunAccount.trace_id)
                .where(
                    TraceRun.status == "done",
                    TraceRun.created_at >= at,
                    TraceRunAccount.account_hash.in_(chunk),
                )
                .distinct()
            )
            found.update(self.session.scalars(stmt))
        return found

    def finished_unindexed_since(self, at: datetime) -> list[str]:
        """The ids of runs with a result, started at `at` or later, whose reached accounts are
        not indexed (stored before the index was, or reaching none)."""
        indexed = exists().where(TraceRunAccount.trace_id == TraceRun.id)
        stmt = select(TraceRun.id).where(
            TraceRun.status == "done", TraceRun.created_at >= at, ~indexed
        )
        return list(self.session.scalars(stmt.order_by(TraceRun.id)))

    def visible_documents(self, ids: Iterable[str], compartments: Compartments) -> set[str]:
        """Which of the source documents `ids` `compartments` may see."""
        wanted = sorted(set(ids))
        if compartments.every or not wanted:
            return set(wanted)
        stmt = select(SourceDocument.id).where(
            SourceDocument.id.in_(wanted), compartments.documents(SourceDocument.case_id)
        )
        return set(self.session.scalars(stmt))

    def compartments(self, trace_id: str) -> list[int]:
        stmt = select(TraceRunCompartment.case_id).where(TraceRunCompartment.trace_id == trace_id)
        return sorted(self.session.scalars(stmt))

    def page(
        self,
        *,
        limit: int,
        after: TimeTextKey | None,
        visible_to: tuple[str, list[int]] | None,
        compartments: Compartments,
    ) -> tuple[list[TraceRun], str | None]:
        """Newest first; `visible_to` (creator id, case ids) limits it to what one caller sees:
        the traces of those cases, and the caller's own traces that belong to no case; of them,
        those that read no compartment beyond `compartments`."""
        stmt = select(TraceRun).where(_within(compartments))
        if visible_to is not None:
            creator, case_ids = visible_to
            own = and_(TraceRun.case_id.is_(None), TraceRun.created_by == creator)
            stmt = stmt.where(or_(own, TraceRun.case_id.in_(case_ids)))
        return page(self.session, stmt, NEWEST_FIRST, limit=limit, after=after)

    def of_case(self, case_id: int, *, limit: int, compartments: Compartments) -> list[TraceRun]:
        """A case's runs that read no compartment beyond `compartments`, newest first."""
        stmt = select(TraceRun).where(TraceRun.case_id == case_id, _within(compartments))
        stmt = stmt.order_by(TraceRun.created_at.desc(), TraceRun.id.desc())
        return list(self.session.scalars(stmt.limit(limit)))

    def heartbeat(self, progress: dict[str, dict[str, Any]], *, now: datetime) -> None:
        """This process's running jobs: their progress, and that they are still alive."""
        runs = table_of(TraceRun)
        stmt = (
            update(runs)
            .where(runs.c.id == bindparam("run_id"), runs.c.status == "running")
            .values(progress=bindparam("run_progress"), heartbeat_at=now)
        )
        rows = [{"run_id": k, "run_progress": v} for k, v in progress.items()]
        self.session.connection().execute(stmt, rows)

    def cancel_requested(self, trace_ids: list[str]) -> list[str]:
        stmt = select(TraceRun.id).where(
            TraceRun.id.in_(trace_ids), TraceRun.cancel_requested_at.is_not(None)
        )
        return list(self.session.scalars(stmt))

    def request_cancel(self, trace_id: str, now: datetime) -> None:
        """Flag a running job for its process to stop (a finished run is never modified)."""
        self.session.execute(
            update(TraceRun)
            .where(TraceRun.id == trace_id, TraceRun.status == "running")
            .values(cancel_requested_at=now)
            .execution_options(synchronize_session=False)
        )

    def running(self) -> list[TraceRun]:
        return list(self.session.scalars(select(TraceRun).where(TraceRun.status == "running")))


def _within(compartments: Compartments) -> Any:
    """Runs that read no compartment beyond `compartments` (true for every one: any run)."""
    if compartments.every:
        return TraceRun.id.is_not(None)
    outside = select(TraceRunCompartment.case_id).where(
        TraceRunCompartment.trace_id == TraceRun.id,
        TraceRunCompartment.case_id.not_in(sorted(compartments.cases)),
    )
    return ~exists(outside)
