"""Each ledger transaction's compartment, as the engine's mask needs it (app.compartments).

A transaction is in the compartment of its source document: the shared pool (`case_id` NULL)
or a case's. The engine knows positions, not documents: `Filing` gives each position a small
code (0 the shared pool, i the case `cases[i - 1]`), read once per ledger and per filing (which
document is filed in which case), so a caller's mask is one gather over a byte per transaction
(`tracing.compartment_mask`), cached by the runtime per ledger, filing and compartment set.

Filing changes without the ledger changing (an admin refiles a document): `filing_digest` names
the filing by its filed documents, and the ledger cache reads the codes anew when it moves.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.trace.caches import BoundedCache
from tracing import Ledger, Mask, TraceResult, compartment_mask

SHARED = 0  # the code of the shared pool
# The advisory lock (PostgreSQL) a refiling into a case and the storing of a trace's
# compartments queue on; SQLite's writers queue on its one write lock already.
FILING_LOCK = 0x6D74_6669
_FILED_DOCUMENTS = "SELECT id, case_id FROM source_documents WHERE case_id IS NOT NULL ORDER BY id"
_FILED_ROWS = """
SELECT t.engine_id, d.case_id FROM transactions t
JOIN source_documents d ON d.id = t.source_document_id
WHERE d.case_id IS NOT NULL
"""


@dataclass(frozen=True)
class Filing:
    """Per transaction position of one ledger, the code of its compartment."""

    codes: np.ndarray  # uint16 per position: 0 shared, i the case cases[i - 1]
    cases: tuple[int, ...]
    digest: str  # `filing_digest` when read: names it in cache keys

    @property
    def filed(self) -> bool:
        """Whether any transaction is in a case's compartment (else nobody needs a mask)."""
        return bool(self.cases)

    def admitted(self, compartments: Compartments) -> np.ndarray:
        """Per code, whether `compartments` may see it."""
        return np.array([True, *(compartments.admits(c) for c in self.cases)], np.bool_)

    def mask(self, ledger: Ledger, compartments: Compartments) -> Mask | None:
        """The mask of what `compartments` may see; None when they see every transaction."""
        admitted = self.admitted(compartments)
        if admitted.all():
            return None
        return Mask.of(ledger, compartment_mask(self.codes, admitted))

    def read_by(self, ledger: Ledger, result: TraceResult, mask: Mask | None) -> list[int]:
        """The cases whose transactions the trace read: every visible transaction of an account
        it reached (its replay reads them all), as sorted case ids."""
        if not self.filed or result.accounts.height == 0:
            return []
        nodes = ledger.nodes_of(
            result.accounts.get_column("account").to_list(),
            result.accounts.get_column("currency").to_list(),
        )
        nodes = nodes[nodes >= 0]
        adj = ledger.adj
        positions = np.concatenate(
            [_segments(adj.out_ptr, adj.out_idx, nodes), _segments(adj.in_ptr, adj.in_idx, nodes)]
        )
        if mask is not None:
            positions = positions[mask.visible[positions]]
        seen = np.bincount(self.codes[positions], minlength=len(self.cases) + 1)
        return sorted(self.cases[i - 1] for i in np.flatnonzero(seen[1:]) + 1)


@dataclass(frozen=True)
class Reading:
    """What one engine run read from: its ledger, the filing it ran under and the caller's mask,
    kept until its result is stored."""

    ledger: Ledger
    filing: Filing
    mask: Mask | None

    def cases(self, session: Session, result: TraceResult) -> list[int] | None:
        """The cases whose compartments the run read, by the filing as it is now (None when no
        document is filed in any case): a document refiled into a case while the engine ran is
        that case's by the time the result is stored, and the refiling (which only adds the case
        to runs already stored) could not see this run. Under `FILING_LOCK`, held to the
        caller's commit, so a refiling comes wholly before or wholly after."""
        lock_filing(session)
        digest = filing_digest(session)
        filing = self.filing
        if digest != filing.digest:
            filing = read_filing(session, self.ledger, digest)
        if not filing.filed:
            return None
        return filing.read_by(self.ledger, result, self.mask)


def lock_filing(session: Session) -> None:
    """Wait for, then hold to the commit, the lock that orders refilings and stored reads."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FILING_LOCK})


def _segments(ptr: np.ndarray, idx: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    lo, hi = ptr[nodes], ptr[nodes + 1]
    if len(nodes) == 0:
        return np.empty(0, np.int64)
    lengths = hi - lo
    # positions lo[i] .. hi[i] of each node, without a Python loop
    offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.asarray(idx[np.arange(int(lengths.sum())) + offsets], np.int64)


def filing_digest(session: Session) -> str:
    """Names which document is filed in which case ("" when none is): few rows, by index."""
    rows = session.connection().exec_driver_sql(_FILED_DOCUMENTS).fetchall()
    if not rows:
        return ""
    return hashlib.sha256("".join(f"{d}:{c}\n" for d, c in rows).encode()).hexdigest()


def read_filing(session: Session, ledger: Ledger, digest: str) -> Filing:
    """Each position's compartment code: the rows of filed documents, found by engine id (the
    engine's `external_id`)."""
    codes = np.zeros(ledger.n_transactions, np.uint16)
    if not digest:
        return Filing(codes, (), digest)
    rows = session.execute(text(_FILED_ROWS)).fetchall()
    frame = pl.DataFrame(rows, schema={"external_id": pl.String, "case_id": pl.Int64}, orient="row")
    cases = tuple(sorted(set(frame.get_column("case_id").to_list())))
    positions = ledger.positions_of(frame.get_column("external_id").to_list())
    code_of = {c: i + 1 for i, c in enumerate(cases)}
    case_codes = np.array([code_of[c] for c in frame.get_column("case_id").to_list()], np.uint16)
    found = positions >= 0  # rows not in the ledger (excluded, staging) have no position
    codes[positions[found]] = case_codes[found]
    return Filing(codes, cases, digest)


def filed_cases(session: Session) -> list[int]:
    """The cases some document is filed in."""
    rows = session.execute(
        text("SELECT DISTINCT case_id FROM source_documents WHERE case_id IS NOT NULL")
    )
    return sorted(int(r[0]) for r in rows)


def hides_any(session: Session, compartments: Compartments) -> bool:
    """Whether some document is filed in a compartment `compartments` may not see."""
    if compartments.every:
        return False
    return any(not compartments.admits(c) for c in filed_cases(session))


MaskCache = BoundedCache[tuple[str, str, str], Mask]


def cached_mask(
    cache: MaskCache, ledger: Ledger, filing: Filing, compartments: Compartments
) -> Mask | None:
    """What `compartments` may trace over: None when that is every transaction (every
    compartment, or nothing filed beyond them), else a mask cached per (ledger, filing,
    compartment set), so a caller's traces after the first cost one lookup."""
    if compartments.every or not filing.filed:
        return None
    key = (ledger.fingerprint, filing.digest, compartments.key)
    # the lookup first: a local trace takes a few hundred microseconds, and the checks below
    # (built arrays) cost tens
    if (found := cache.get(key)) is not None:
        return found
    if all(compartments.admits(c) for c in filing.cases):
        return None
    found = filing.mask(ledger, compartments)
    assert found is not None
    # the visible flags, and the degree a cut-off may count (8 bytes a node)
    cache.put(key, found, size=len(found.visible) + 8 * ledger.n_nodes, pins=ledger.fingerprint)
    return found
