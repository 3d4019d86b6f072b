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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.trace.caches import BoundedCache
from tracing import Ledger, Mask, TraceResult, bits_at, compartment_mask

SHARED = 0  # the code of the shared pool
# The advisory lock (PostgreSQL) a refiling into a case and the storing of a trace's
# compartments queue on; SQLite's writers queue on its one write lock already.
FILING_LOCK = 0x6D74_6669
# Case codes kept as per-node bits up to 4 words (255 cases): 32 bytes a node at the most.
_BIT_WORDS = 4
NodeCodes = tuple[np.ndarray, np.ndarray, np.ndarray | None]
BitsKeep = tuple[np.ndarray | None, np.ndarray | None]  # see `Filing._bits_for`
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
    # Each document filed in a case, with its case, when read: what a refiling since changed.
    documents: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # How many refilings were recorded before `documents` was read (`refilings`): while that
    # count stands, no document has moved since.
    refilings: int = field(default=0, compare=False)
    # Per ledger fingerprint, each node's case codes (see `_node_codes`): made on first need.
    _by_node: dict[str, NodeCodes] = field(default_factory=dict, compare=False, repr=False)
    # Per compartment set (its key), the bits of the case codes it admits (`_admitted_bits`).
    _admits: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    # Per (ledger fingerprint, compartment set key), both of the above for `read_by`.
    _bits: dict[tuple[str, str], BitsKeep] = field(default_factory=dict, compare=False, repr=False)

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

    def read_by(self, ledger: Ledger, result: TraceResult, compartments: Compartments) -> list[int]:
        """The cases whose transactions a trace over what `compartments` may see read: every
        visible transaction of an account it reached (its replay reads them all), as sorted
        case ids. A transaction is visible when its compartment is admitted (`mask`), so these
        are the admitted cases among those filed on the reached accounts."""
        if not self.filed:
            return []
        nodes = result.reached_nodes
        if nodes is None:
            nodes = ledger.nodes_of(
                result.accounts.get_column("account").to_list(),
                result.accounts.get_column("currency").to_list(),
            )
            nodes = nodes[nodes >= 0]  # an account the ledger lacks
        # one lookup for what depends only on the ledger and the compartment set: the nodes'
        # case bits and the admitted ones (two lookups were a third of the read's Python)
        bits_keep = self._bits.get((ledger.fingerprint, compartments.key))
        if bits_keep is None:
            bits_keep = self._bits_for(ledger, compartments)
        bits, keep = bits_keep
        if bits is not None and keep is not None:  # one compiled pass finds the admitted codes
            found = bits_at(bits, nodes, keep).tolist()
            cases = self.cases
            return sorted([cases[c - 1] for c in found])
        ptr, codes, _ = self._node_codes(ledger)
        found = np.unique(_segments(ptr, codes, nodes)).tolist()
        return sorted(
            self.cases[c - 1] for c in found if c and compartments.admits(self.cases[c - 1])
        )

    def _bits_for(self, ledger: Ledger, compartments: Compartments) -> BitsKeep:
        """The nodes' case bits and the bits `compartments` admit (None, None without bits)."""
        bits = self._node_codes(ledger)[2]
        found: BitsKeep = (
            (None, None) if bits is None else (bits, self._admitted_bits(compartments))
        )
        # a filing is read for one ledger (as `_node_codes`), and few compartment sets
        fingerprint = ledger.fingerprint
        if len(self._bits) >= 256 or any(f != fingerprint for f, _ in self._bits):
            self._bits.clear()
        self._bits[(fingerprint, compartments.key)] = found
        return found

    def _admitted_bits(self, compartments: Compartments) -> np.ndarray:
        """The codes of the cases `compartments` admit, as bits of 64-bit words (the shared
        pool's code 0 is no case): made once per compartment set, as traces read them often."""
        words = self._admits.get(compartments.key)
        if words is None:
            bits = [0] * ((len(self.cases) + 64) // 64)
            for code, case in enumerate(self.cases, 1):
                if compartments.admits(case):
                    bits[code // 64] |= 1 << (code % 64)
            words = np.array(bits, np.uint64)
            if len(self._admits) >= 256:  # distinct compartment sets: a bound all the same
                self._admits.clear()
            self._admits[compartments.key] = words
        return words

    def _node_codes(self, ledger: Ledger) -> NodeCodes:
        """Per node, the distinct case codes among its transactions: a CSR (`ptr`, codes), and
        as bits while there are few cases (`_BIT_WORDS`): a row per 64 codes, a 64-bit word per
        node (`tracing.bits_at`).

        Made once per ledger and filing: gathering the reached accounts' transactions on every
        trace (a hub's thousands) cost many times a local trace.
        """
        found = self._by_node.get(ledger.fingerprint)
        if found is None:
            filed = np.flatnonzero(self.codes)
            width = len(self.cases) + 1
            ends = np.concatenate([ledger.src[filed], ledger.dst[filed]]).astype(np.int64)
            pairs = np.unique(ends * width + np.tile(self.codes[filed], 2))
            node, code = pairs // width, pairs % width
            ptr = np.searchsorted(node, np.arange(ledger.n_nodes + 1))
            bits = None
            words = (width + 63) // 64
            if words <= _BIT_WORDS:
                bits = np.zeros((words, ledger.n_nodes), np.uint64)
                # the pairs are distinct: adding each code's bit sets it
                np.add.at(
                    bits,
                    (code // 64, node),
                    np.left_shift(np.uint64(1), (code % 64).astype(np.uint64)),
                )
            found = (ptr, code, bits)
            self._by_node.clear()  # a filing is read for one ledger
            self._by_node[ledger.fingerprint] = found
        return found


@dataclass(frozen=True)
class Reading:
    """What one engine run read from: its ledger, the filing it ran under and the caller's
    compartments, kept until its result is stored."""

    ledger: Ledger
    filing: Filing
    compartments: Compartments

    def cases(
        self,
        session: Session,
        result: TraceResult,
        account_keys_of: Callable[[Session, str], set[str]],
        refiled_among: Callable[[Session, list[str]], set[str]],
    ) -> list[int] | None:
        """The cases whose compartments the run read, by the filing as it is now (None when no
        document is filed in any case or none was read). A document refiled into a case while
        the engine ran (`refiled_among`: those of the given documents ever refiled) is that
        case's by the time the result is stored, and the refiling (which adds the case to runs
        already stored) could not see this run: such a case is added when the run reached an
        account the document's transactions touch (`account_keys_of`, the refiling's own
        rule). Under `FILING_LOCK`, held to the caller's commit, so a refiling
        comes wholly before or wholly after.

        The filed documents are read again only when a refiling was recorded since the run's
        filing read them (their count moved): else the filing it ran under is the filing now,
        but for documents loaded into a case meanwhile, which its ledger did not hold."""
        lock_filing(session)
        read = set(self.filing.read_by(self.ledger, result, self.compartments))
        if refilings(session) == self.filing.refilings:
            filed = bool(read or self.filing.documents) or any_filed(session)
            return sorted(read) if filed else None
        now = filed_documents(session)
        moved = {d: c for d, c in now.items() if self.filing.documents.get(d) != c}
        if moved:
            # Only a refiling moves a document: one loaded into a case meanwhile was not in the
            # run's ledger, and taking its case would tell the runner (refused their own trace)
            # that a hidden case holds records on the accounts they traced.
            refiled = refiled_among(session, sorted(moved))
            moved = {d: c for d, c in moved.items() if d in refiled}
        reached = set(result.accounts.get_column("account").to_list()) if moved else set()
        for document, case in sorted(moved.items()):
            if case not in read and reached & account_keys_of(session, document):
                read.add(case)
        return sorted(read) if now or read else None


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


def filed_documents(session: Session) -> dict[str, int]:
    """Each document filed in a case, with its case: few rows, by index."""
    rows = session.connection().exec_driver_sql(_FILED_DOCUMENTS).fetchall()
    return {str(d): int(c) for d, c in rows}


def refilings(session: Session) -> int:
    """How many refilings are recorded (they are only ever added): read before the filed
    documents, a count that still stands later says that none has moved since."""
    return int(session.execute(text("SELECT count(*) FROM compartment_changes")).scalar() or 0)


def any_filed(session: Session) -> bool:
    """Whether some document is filed in a case (one row by index)."""
    found = session.execute(
        text("SELECT 1 FROM source_documents WHERE case_id IS NOT NULL LIMIT 1")
    ).first()
    return found is not None


def digest_of(documents: dict[str, int]) -> str:
    """Names which document is filed in which case ("" when none is)."""
    if not documents:
        return ""
    lines = "".join(f"{d}:{c}\n" for d, c in sorted(documents.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def filing_digest(session: Session) -> str:
    """Names which document is filed in which case ("" when none is)."""
    return digest_of(filed_documents(session))


def read_filing(
    session: Session,
    ledger: Ledger,
    digest: str,
    documents: dict[str, int] | None = None,
    refiled: int = 0,
) -> Filing:
    """Each position's compartment code: the rows of filed documents, found by engine id (the
    engine's `external_id`). `refiled`: the `refilings` read before `documents`."""
    codes = np.zeros(ledger.n_transactions, np.uint16)
    documents = documents or {}
    if not digest:
        return Filing(codes, (), digest, documents, refilings=refiled)
    rows = session.execute(text(_FILED_ROWS)).fetchall()
    frame = pl.DataFrame(rows, schema={"external_id": pl.String, "case_id": pl.Int64}, orient="row")
    cases = tuple(sorted(set(frame.get_column("case_id").to_list())))
    positions = ledger.positions_of(frame.get_column("external_id").to_list())
    code_of = {c: i + 1 for i, c in enumerate(cases)}
    case_codes = np.array([code_of[c] for c in frame.get_column("case_id").to_list()], np.uint16)
    found = positions >= 0  # rows not in the ledger (excluded, staging) have no position
    codes[positions[found]] = case_codes[found]
    return Filing(codes, cases, digest, documents, refilings=refiled)


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
    # the visible flags, the degree a cut-off may count (8 bytes a node) and the nodes with a
    # visible transaction (a byte a node)
    cache.put(key, found, size=len(found.visible) + 9 * ledger.n_nodes, pins=ledger.fingerprint)
    return found
