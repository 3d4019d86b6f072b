"""The in-memory ledger index the engine runs on, kept warm between requests.

Built once from the database, then brought up to date by appending the transactions stored
since (ids only grow: the ledger is append-only). The engine extends its index when new rows
come later in time, merges a few late rows into place, and rebuilds it when a long late
statement arrives (`tracing.Ledger.append`).

A record that leaves the ledger (a confirmed duplicate's later record, a record a correction
superseded: `app.transaction.models.LedgerExclusion`) and a refiled document (its rows' engine
ids change: docs/engine-ids.md) are the changes that are not appends:
the exclusions' version (their newest id) is kept with the ledger, and when it moves the ledger
is built anew, so its fingerprint (a hash of the rows it holds) changes with what it traces.

A big upload on SQLite stores its rows in slices under a staging document before they join the
ledger (app.transaction.staged): they are skipped while it stages, and read by their document
once it is published, although rows stored since have higher ids.
"""

import contextlib
import ctypes
import gc
import threading
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.money import currency_decimals
from app.settings import Settings
from app.source.models import COMMITTED_ROWS_SQL, STAGING
from app.trace.filing import Filing, digest_of, filed_documents, read_filing, refilings
from app.trace.ledger_index import SharedIndex, Version, external_id_of
from app.transaction.models import IN_LEDGER_SQL, REBUILD_VERSION_SQL
from tracing import Ledger

_SELECT = """
SELECT t.id, t.engine_id AS external_id, fa.key AS from_account, ta.key AS to_account,
       t.amount_minor, t.currency, {time} AS value_time, COALESCE(t.sequence, 0) AS sequence
FROM transactions t
JOIN accounts fa ON fa.id = t.from_account_id
JOIN accounts ta ON ta.id = t.to_account_id
WHERE {where} AND {committed}
ORDER BY t.id
"""
TIME_SQL = {  # value_time as "YYYY-MM-DD HH:MM:SS.ffffff" UTC text, per dialect
    "postgresql": "to_char(t.value_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
    "sqlite": "t.value_time",
}
_RAW = pl.Schema(
    {
        "id": pl.Int64(),
        "external_id": pl.String(),
        "from_account": pl.String(),
        "to_account": pl.String(),
        "amount_minor": pl.Int64(),
        "currency": pl.String(),
        "value_time": pl.String(),
        "sequence": pl.Int64(),
    }
)


def _last_id(session: Session) -> int:
    last = session.connection().exec_driver_sql("SELECT max(id) FROM transactions").scalar()
    return int(last or 0)


def _exclusions_version(session: Session) -> int:
    found = session.connection().exec_driver_sql(REBUILD_VERSION_SQL).scalar()
    return int(found or 0)


def _staging_ids(session: Session) -> frozenset[str]:
    found = session.execute(
        text("SELECT id FROM source_documents WHERE state = :state"), {"state": STAGING}
    )
    return frozenset(str(row[0]) for row in found)


def _listed(documents: frozenset[str]) -> str:
    # Ids are hex text (uuid4().hex), checked so that they can be written into the statement.
    return ", ".join(f"'{d}'" for d in sorted(documents) if d.isalnum()) or "''"


def _new_rows(
    session: Session, after: int, last: int, published: frozenset[str], staging: frozenset[str]
) -> pl.DataFrame:
    """Rows stored in (after, last], and all rows up to `last` of the documents published since
    (some may lie beyond `after`), each once.

    The documents found staging are left out by name as well: on PostgreSQL each statement
    sees the database anew, and one published in between is read next time, by its document.
    """
    in_range = (
        f"t.id > {int(after)} AND t.id <= {int(last)}"
        f" AND t.source_document_id NOT IN ({_listed(published | staging)})"
    )
    if not published:
        return _read_rows(session, in_range)
    return pl.concat(
        [
            _read_rows(session, in_range),
            _read_rows(
                session, f"t.id <= {int(last)} AND t.source_document_id IN ({_listed(published)})"
            ),
        ]
    )


_FETCH_ROWS = 50_000


def _read_rows(session: Session, where: str) -> pl.DataFrame:
    conn = session.connection()
    sql = _SELECT.format(
        time=TIME_SQL[conn.dialect.name],
        where=where,
        committed=f"{COMMITTED_ROWS_SQL} AND {IN_LEDGER_SQL}",
    )
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        buffer = bytearray()
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer += block
        if not buffer:
            return _as_engine_frame(pl.DataFrame(schema=_RAW))
        frame = pl.read_csv(
            bytes(buffer), has_header=False, new_columns=list(_RAW), schema_overrides=_RAW
        )
    else:
        # In batches: a million rows fetched at once were a million tuples of Python objects,
        # whose freed memory the process kept (hundreds of MiB in the worker that built).
        cur = raw.cursor()
        try:
            cur.execute(sql)
            chunks = []
            while rows := cur.fetchmany(_FETCH_ROWS):
                chunks.append(pl.DataFrame(rows, schema=_RAW, orient="row"))
        finally:
            cur.close()
        frame = pl.concat(chunks) if chunks else pl.DataFrame(schema=_RAW)
    return _as_engine_frame(frame)


def _as_engine_frame(frame: pl.DataFrame) -> pl.DataFrame:
    # Amounts stay integer minor units: the engine takes them as they are (Ledger.from_minor).
    return frame.select(
        pl.col("id").cast(pl.Int64),
        "external_id",
        "from_account",
        "to_account",
        pl.col("amount_minor").cast(pl.Int64),
        "currency",
        pl.col("value_time")
        .cast(pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC"),
        pl.col("sequence").cast(pl.Int64),
    )


@dataclass
class _State:
    ledger: Ledger
    last_id: int
    # Documents staging when the ledger was last brought up to date: their rows up to last_id
    # were skipped, and are read when the document is published.
    pending: frozenset[str]
    # The exclusions' version the ledger was built with (0: none).
    excluded: int = 0


def release_memory() -> None:
    """Free unreachable objects now and return the C heap's free pages to the system (glibc's
    `malloc_trim`; nothing where the C library has none)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class LedgerCache:
    """One warm ledger per process; `current` brings it up to date and returns it.

    With a shared index (several worker processes), the ledger is built once, by one process,
    and mapped by all (`app.trace.ledger_index`).
    """

    def __init__(self, shared: SharedIndex | None = None) -> None:
        self._lock = threading.Lock()
        self._state: _State | None = None
        # Each position's compartment, for the ledger it was read for (app.trace.filing).
        self._filing: tuple[Ledger, Filing] | None = None
        self.shared = shared
        self.builds = 0  # how many times this process read rows and indexed them

    @classmethod
    def for_settings(cls, settings: Settings) -> "LedgerCache":
        if not settings.shares_ledger_index:
            return cls()
        url, keep = settings.effective_database_url, settings.trace_index_keep
        return cls(SharedIndex(settings.ledger_index_dir, database_url=url, keep=keep))

    def current_filed(self, session: Session) -> tuple[Ledger, Filing]:
        """The current ledger and each of its transactions' compartment, read in one snapshot:
        the codes are read anew when the ledger or the filing (documents refiled) moved."""
        while True:
            ledger = self.current(session)
            with self._lock:
                state = self._state
                known = self._filing
            # The same ledger: nothing was refiled since its filing was read (every refiling
            # moves the rebuild version, and the ledger is then built anew), so which of its
            # rows are filed where stands. A document filed in a case since brings rows of its
            # own, in a new ledger; until they are in one, they have no position to code.
            if known is not None and known[0] is ledger:
                return known
            built_for = state.excluded if state is not None and state.ledger is ledger else None
            # read before the documents: a refiling in between is then seen as one since
            counted = refilings(session)
            documents = filed_documents(session)
            digest = digest_of(documents)
            filing = read_filing(session, ledger, digest, documents, counted)
            # On PostgreSQL each statement reads its own snapshot: a refiling committed after
            # the ledger was read renames rows the ledger does not hold, and they would be
            # coded as the shared pool (shown to everyone). Every refiling moves the rebuild
            # version: then the ledger is read again (refilings are an admin's rare acts).
            if _exclusions_version(session) != built_for:
                continue
            with self._lock:
                self._filing = (ledger, filing)
            return ledger, filing

    def current(self, session: Session) -> Ledger:
        """The ledger as `session` sees it; its reads must share one snapshot (SQLite's read
        transaction), so that the staging documents and the rows agree."""
        with self._lock:
            state = self._state
            last = _last_id(session)
            staging = _staging_ids(session)
            excluded = _exclusions_version(session)
            if state is not None and state.excluded != excluded:
                state = None  # a record left the ledger: an index only grows, so build anew
            if state is not None:
                published = state.pending - staging
                # Nothing stored or published since: two index lookups instead of the joined read.
                if last <= state.last_id and not published:
                    if staging != state.pending:
                        self._state = _State(state.ledger, state.last_id, staging, excluded)
                    return state.ledger
            if self.shared is None:
                self._state = self._updated(session, state, last, staging, excluded)
            else:
                self._state = self._mapped(session, self.shared, state, last, staging, excluded)
            return self._state.ledger

    def _updated(
        self,
        session: Session,
        state: _State | None,
        last: int,
        staging: frozenset[str],
        excluded: int,
    ) -> _State:
        after = 0 if state is None else state.last_id
        published = frozenset() if state is None else state.pending - staging
        rows = _new_rows(session, after, last, published, staging)
        if state is not None and rows.height == 0:
            return _State(state.ledger, max(after, last), staging, excluded)
        self.builds += 1
        frame = rows.drop("id")
        if state is None:
            ledger = Ledger.from_minor(frame, currency_decimals())
        else:
            ledger = state.ledger.append(frame, currency_decimals=currency_decimals())
        return _State(ledger, max(after, last), staging, excluded)

    def _mapped(
        self,
        session: Session,
        shared: SharedIndex,
        state: _State | None,
        last: int,
        staging: frozenset[str],
        excluded: int,
    ) -> _State:
        # A version is current only if it holds every row up to `last` and skipped exactly the
        # documents that are staging now (one published since must have its rows read).
        built_here = False
        if (found := shared.newest(session, last, staging, excluded)) is None:
            with shared.building():
                # Another process may have built it while this one waited for the lock.
                if (found := shared.newest(session, last, staging, excluded)) is None:
                    built_here = True
                    built = self._updated(session, state, last, staging, excluded)
                    found = Version(
                        built.ledger.fingerprint,
                        built.last_id,
                        external_id_of(session, built.last_id),
                        sorted(built.pending),
                        excluded,
                    )
                    shared.publish(built.ledger, found)
        pending = frozenset(found.pending)
        if self._state is not None and self._state.ledger.fingerprint == found.fingerprint:
            return _State(self._state.ledger, found.last_id, pending, excluded)
        # The private copy just built is dropped for the mapped one, shared by every process,
        # and the memory the build used is handed back to the system (not kept for reuse).
        mapped = _State(shared.load(found), found.last_id, pending, excluded)
        if built_here:
            del built
            release_memory()
        return mapped
