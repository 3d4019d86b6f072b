"""`moneytrail lake sync`: copy what the database gained since the last sync into the lake.

The database stays the system of record; the lake (see :mod:`lake.store`) is a Parquet copy
laid out for tracing on Spark. The ledger is append-only and every transaction belongs to one
source document, so a sync reads the rows of the documents the lake does not list yet.

The one change that is not an append, a record leaving the ledger (`ledger_exclusions`: a
confirmed duplicate, a superseded record), is carried too: every sync reads the external ids
excluded (few: each is a person's decision) and the lake drops the ones it did not drop yet, so
its manifest names the fingerprint of the ledger the in-memory engine traces. The other, a
document refiled between the pool and a case, renames its rows (docs/engine-ids.md): every sync
reads the documents filed in a case, and the lake copies a refiled document's rows again under
their new engine ids.
"""

from pathlib import Path

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.money import currency_decimals
from app.source.models import COMMITTED_ROWS_SQL
from app.trace.ledger_cache import TIME_SQL
from app.transaction.models import IN_LEDGER_SQL
from lake.store import DEFAULT_BUCKETS, LAKE_ROWS, SOURCE_DOCUMENT, Lake, Manifest

_DOCUMENTS = f"SELECT DISTINCT source_document_id FROM transactions t WHERE {COMMITTED_ROWS_SQL}"
_ROWS = """
SELECT t.engine_id, fa.key AS from_account, ta.key AS to_account, t.currency,
       t.amount_minor, {time} AS value_time, COALESCE(t.sequence, 0) AS sequence,
       t.source_document_id
FROM transactions t
JOIN accounts fa ON fa.id = t.from_account_id
JOIN accounts ta ON ta.id = t.to_account_id
WHERE t.source_document_id IN ({documents}) AND {committed}
"""
# Rows out of the ledger, with their document: one the lake lacks yet is copied by the same sync.
_EXCLUDED = f"""
SELECT t.engine_id, t.source_document_id
FROM transactions t
WHERE NOT ({IN_LEDGER_SQL}) AND {COMMITTED_ROWS_SQL}
"""
_FILED = "SELECT id, case_id FROM source_documents WHERE case_id IS NOT NULL"
# Documents per query: bound parameters stay far below every driver's limit.
_CHUNK = 500


def _rows_of(session: Session, documents: list[str]) -> pl.DataFrame:
    conn = session.connection()
    frames = []
    for lo in range(0, len(documents), _CHUNK):
        part = documents[lo : lo + _CHUNK]
        marks = ", ".join(f":d{i}" for i in range(len(part)))
        sql = _ROWS.format(
            time=TIME_SQL[conn.dialect.name], documents=marks, committed=COMMITTED_ROWS_SQL
        )
        found = session.execute(text(sql), {f"d{i}": d for i, d in enumerate(part)})
        frames.append(pl.DataFrame([tuple(r) for r in found], schema=_RAW, orient="row"))
    raw = pl.concat(frames) if frames else pl.DataFrame(schema=_RAW)
    return raw.select(
        "external_id",
        "from_account",
        "to_account",
        "currency",
        pl.col("amount_minor").cast(pl.Int64),
        pl.col("value_time")
        .cast(pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC")
        .dt.epoch("us")
        .alias("time_us"),
        pl.col("sequence").cast(pl.Int64),
        pl.col("source_document_id").alias(SOURCE_DOCUMENT),
    ).cast(LAKE_ROWS)


_RAW = pl.Schema(
    {
        "external_id": pl.String(),
        "from_account": pl.String(),
        "to_account": pl.String(),
        "currency": pl.String(),
        "amount_minor": pl.Int64(),
        "value_time": pl.String(),
        "sequence": pl.Int64(),
        "source_document_id": pl.String(),
    }
)


def sync_lake(session: Session, root: Path, *, buckets: int = DEFAULT_BUCKETS) -> Manifest:
    """Append the source documents the lake at ``root`` lacks and drop the rows that left the
    ledger since the last sync; return the manifest in force."""
    lake = Lake(root)
    current = lake.manifest()
    known = set(current.documents) if current else set()
    stored = {str(d) for (d,) in session.execute(text(_DOCUMENTS))}
    new = sorted(stored - known)
    documents = known | stored
    excluded = {
        str(external_id)
        for external_id, document in session.execute(text(_EXCLUDED))
        if str(document) in documents
    }
    leaving = excluded - lake.excluded(current)
    filed = {
        str(document): int(case)
        for document, case in session.execute(text(_FILED))
        if str(document) in documents
    }
    refiled = Lake.refiled(current, filed)
    if current is not None and not new and not leaving and not refiled:
        return current
    rows = _rows_of(session, sorted({*new, *refiled}))
    # After a refiling the lake's excluded names may be stale: it is given them all.
    return lake.append(
        rows,
        decimals=currency_decimals(),
        buckets=buckets,
        excluded=excluded if refiled else leaving,
        filed=filed,
    )
