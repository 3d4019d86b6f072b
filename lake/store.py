"""The lake: a Parquet copy of the ledger laid out for tracing, committed by manifest.

Layout under the lake's root::

    transactions/bucket=0007/part-<sync>.parquet   rows whose source account hashes to 7,
                                                   sorted by (time, sequence, id) inside
    degrees/bucket=0007/part-<sync>.parquet        distinct counterparties of each
                                                   (account, currency) hashing to 7
    exclusions/bucket=0007/part-<sync>.parquet     external ids of rows of bucket 7 that left
                                                   the ledger (a confirmed duplicate, a
                                                   superseded record)
    _manifests/<id>.json                           every committed manifest, kept
    _manifest.json                                 the manifest in force

A sync writes its new files first, under names no manifest lists, then commits by replacing
``_manifest.json`` in one rename. Readers take the file list from the manifest, so a sync
killed at any point leaves the previous manifest, and exactly its rows, in force; the files it
had written are removed by the next sync. Degree tables are rewritten by every sync; the ones a
sync replaces stay until the sync after it, so a search that read the old manifest can finish.
The manifest's id is the fingerprint of the ledger its rows make
(:attr:`tracing.Ledger.fingerprint`), so a trace on the lake and one in memory name their input
alike.

A row that leaves the ledger stays in its data file (the files are never rewritten): the sync
that learns of it writes its external id to an exclusion file of its source account's bucket,
and every read of the lake (:meth:`Lake.rows`, the Spark scan of :mod:`lake.search`) drops the
rows those files list. The fingerprint, the row count and the degree tables are those of the
rows left, as the in-memory engine's ledger holds them.

A bucket is ``crc32(utf-8 of the source account) mod buckets``: Python's ``zlib`` and
Spark's ``crc32`` agree on it, so a hop over a few accounts reads a few buckets.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
import zlib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracing import Ledger
from tracing.schema import (
    AMOUNT,
    CURRENCY,
    EXTERNAL_ID,
    FROM_ACCOUNT,
    MINOR,
    SEQUENCE,
    TIME_DTYPE,
    TIME_US,
    TO_ACCOUNT,
    VALUE_TIME,
    conform_transactions,
)

SOURCE_DOCUMENT = "source_document"
LAKE_ROWS = pl.Schema(
    {
        EXTERNAL_ID: pl.String(),
        FROM_ACCOUNT: pl.String(),
        TO_ACCOUNT: pl.String(),
        CURRENCY: pl.String(),
        MINOR: pl.Int64(),
        TIME_US: pl.Int64(),
        SEQUENCE: pl.Int64(),
        SOURCE_DOCUMENT: pl.String(),
    }
)
SORT_KEY = (TIME_US, SEQUENCE, EXTERNAL_ID)
DEFAULT_BUCKETS = 64
MANIFEST = "_manifest.json"
DATA = "transactions"
DEGREES = "degrees"
DEGREE_ROWS = pl.Schema({"account": pl.String(), CURRENCY: pl.String(), "degree": pl.Int64()})
EXCLUSIONS = "exclusions"
EXCLUSION_ROWS = pl.Schema({EXTERNAL_ID: pl.String(), FROM_ACCOUNT: pl.String()})


def bucket_of(account: str, buckets: int) -> int:
    """Bucket of a source account: ``crc32(utf-8) mod buckets`` (Spark's ``crc32`` agrees)."""
    return zlib.crc32(account.encode()) % buckets


@dataclass(frozen=True, slots=True)
class LakeFile:
    """One Parquet file of the lake: its path under the root, bucket and row count."""

    path: str
    bucket: int
    rows: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a lake holds at one commit. ``id`` is the fingerprint of its ledger."""

    id: str
    buckets: int
    transactions: int
    decimals: dict[str, int]
    documents: tuple[str, ...]
    files: tuple[LakeFile, ...]
    degree_files: tuple[LakeFile, ...]
    previous: str | None
    committed_at: str
    # Rows of `files` no longer in the ledger (absent from manifests written before them).
    exclusion_files: tuple[LakeFile, ...] = ()
    # Documents filed in a case, with the case: their rows' external ids name it (an engine id
    # `<id>@case:<n>`), so a document refiled since is copied again under its new ids.
    filed: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        """Canonical JSON of the manifest."""
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse :meth:`to_json`'s output."""
        data: dict[str, Any] = json.loads(text)
        data["documents"] = tuple(data["documents"])
        data["files"] = tuple(LakeFile(**f) for f in data["files"])
        data["degree_files"] = tuple(LakeFile(**f) for f in data["degree_files"])
        data["exclusion_files"] = tuple(LakeFile(**f) for f in data.get("exclusion_files", ()))
        data["filed"] = dict(data.get("filed", {}))
        return cls(**data)

    @property
    def bytes(self) -> int:
        """Size of the lake's data files."""
        return sum(f.bytes for f in self.files)


def lake_rows(
    frame: pl.DataFrame, document: str, decimals: Mapping[str, int] | None = None
) -> pl.DataFrame:
    """An engine transactions frame as the lake rows of one source document (checked as
    :meth:`tracing.Ledger.from_frame` checks it)."""
    rows, _, _ = conform_transactions(frame, decimals)
    return rows.with_columns(pl.lit(document).alias(SOURCE_DOCUMENT)).select(LAKE_ROWS.names())


def engine_frame(rows: pl.DataFrame, decimals: Mapping[str, int]) -> pl.DataFrame:
    """Lake rows (minor units, microseconds) as the engine's transactions frame."""
    scale = max(decimals.values(), default=2)
    places = pl.col(CURRENCY).replace_strict(dict(decimals), return_dtype=pl.Int64)
    dtype = pl.Decimal(38, scale)
    # As tracing.build.Money converts: minor units at the target scale, divided exactly.
    divisor = pl.lit(10, pl.Int64).pow(places).cast(pl.Decimal(38, 0))
    amount = (pl.col(MINOR).cast(dtype) / divisor).cast(dtype)
    return rows.select(
        EXTERNAL_ID,
        FROM_ACCOUNT,
        TO_ACCOUNT,
        amount.alias(AMOUNT),
        CURRENCY,
        pl.col(TIME_US).cast(TIME_DTYPE).alias(VALUE_TIME),
        SEQUENCE,
    )


class Lake:
    """A lake directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def manifest(self) -> Manifest | None:
        """The manifest in force, or None for a lake never synced."""
        try:
            return Manifest.from_json((self.root / MANIFEST).read_text())
        except FileNotFoundError:
            return None

    def require_manifest(self) -> Manifest:
        """The manifest in force; a lake never synced raises FileNotFoundError."""
        manifest = self.manifest()
        if manifest is None:
            raise FileNotFoundError(f"{self.root} is not a moneytrail lake (no {MANIFEST})")
        return manifest

    def paths(self, manifest: Manifest, buckets: set[int] | None = None) -> list[str]:
        """Absolute paths of the manifest's files, of ``buckets`` only when given."""
        return self._paths(manifest.files, buckets)

    def exclusion_paths(self, manifest: Manifest, buckets: set[int] | None = None) -> list[str]:
        """Absolute paths of the manifest's exclusion files (:data:`EXCLUSION_ROWS`), of
        ``buckets`` only when given: the rows of :meth:`paths` a read must drop."""
        return self._paths(manifest.exclusion_files, buckets)

    def _paths(self, files: tuple[LakeFile, ...], buckets: set[int] | None) -> list[str]:
        return [str(self.root / f.path) for f in files if buckets is None or f.bucket in buckets]

    def excluded(self, manifest: Manifest | None) -> set[str]:
        """External ids of the rows the manifest's exclusion files drop."""
        paths = self.exclusion_paths(manifest) if manifest else []
        if not paths:
            return set()
        ids = pl.read_parquet(paths, schema=EXCLUSION_ROWS).get_column(EXTERNAL_ID)
        return set(ids.to_list())

    def degrees(
        self, manifest: Manifest, nodes: list[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Distinct counterparties of each ``(account, currency)`` (0 where unknown).

        Read on the driver from the few buckets the accounts hash to: the high-degree cut-off
        asks this of every frontier, and a Spark job per hop would cost more than the hop.
        """
        buckets = {bucket_of(a, manifest.buckets) for a, _ in nodes}
        paths = [str(self.root / f.path) for f in manifest.degree_files if f.bucket in buckets]
        found: dict[tuple[str, str], int] = dict.fromkeys(nodes, 0)
        if paths and nodes:
            wanted = pl.DataFrame(nodes, schema=["account", CURRENCY], orient="row")
            table = pl.scan_parquet(paths, schema=DEGREE_ROWS).join(
                wanted.lazy(), on=["account", CURRENCY], how="semi"
            )
            found.update(((a, c), d) for a, c, d in table.collect().iter_rows())
        return found

    def accounts_starting_with(self, manifest: Manifest, prefixes: tuple[str, ...]) -> set[str]:
        """Account keys of the lake that start with one of ``prefixes`` (from the degree
        tables, which list every account once per currency)."""
        paths = [str(self.root / f.path) for f in manifest.degree_files]
        if not paths:
            return set()
        keys = pl.scan_parquet(paths, schema=DEGREE_ROWS).select("account")
        wanted = pl.any_horizontal(pl.col("account").str.starts_with(p) for p in prefixes)
        return set(keys.filter(wanted).unique().collect().get_column("account").to_list())

    def rows(self, manifest: Manifest | None = None) -> pl.DataFrame:
        """Every row of the ledger of the manifest in force (or of ``manifest``), in canonical
        order: the rows of its data files less those its exclusion files list."""
        manifest = manifest or self.manifest()
        if manifest is None:
            return pl.DataFrame(schema=LAKE_ROWS)
        return _without(self._stored(manifest), self.excluded(manifest))

    def _stored(self, manifest: Manifest | None) -> pl.DataFrame:
        """Every row of the manifest's data files, excluded or not, in canonical order."""
        if manifest is None or not manifest.files:
            return pl.DataFrame(schema=LAKE_ROWS)
        return pl.read_parquet(self.paths(manifest), schema=LAKE_ROWS).sort(SORT_KEY)

    @staticmethod
    def refiled(manifest: Manifest | None, filed: Mapping[str, int]) -> set[str]:
        """Documents of ``manifest`` whose filing (``filed``: document -> case, as the
        database has it now; pool documents absent) differs from the one their rows were
        copied under: their rows must be copied again, under their new external ids."""
        if manifest is None:
            return set()
        return {d for d in manifest.documents if manifest.filed.get(d) != filed.get(d)}

    def append(
        self,
        rows: pl.DataFrame,
        *,
        decimals: Mapping[str, int],
        buckets: int = DEFAULT_BUCKETS,
        excluded: Collection[str] = (),
        filed: Mapping[str, int] | None = None,
    ) -> Manifest:
        """Add the rows of source documents the lake does not hold yet, drop the rows
        ``excluded`` names (external ids) from the ledger, and commit.

        ``rows`` has the columns of :data:`LAKE_ROWS`; rows of documents already in the lake
        are ignored (the ledger is append-only, so a document synced once is complete), except
        those of documents refiled since (``filed``, see :meth:`refiled`): a refiling renames a
        document's rows, so ``rows`` must hold them again and the lake is rewritten whole (a
        refiling is an admin's rare decision; the files are never edited in place).
        Exclusions are only added: ids already excluded, or of no row the lake holds once
        ``rows`` are in, are ignored. The new manifest is in force only once this returns.
        """
        with self._locked():
            old = self.manifest()
            filed = dict(old.filed if old else {}) if filed is None else dict(filed)
            refiled = self.refiled(old, filed)
            known = (set(old.documents) if old else set()) - refiled
            fresh = rows.select(LAKE_ROWS.names()).cast(LAKE_ROWS)
            fresh = fresh.filter(~pl.col(SOURCE_DOCUMENT).is_in(sorted(known)))
            gone = self.excluded(old)
            # Read once: a refiling needs the stored rows here already, an append only below.
            held = self._stored(old) if refiled else None
            if held is not None:
                # The refiled rows' old names: no row's now, or a new row's (a name the
                # refiling freed and a later load took), which must not be dropped for them.
                renamed = held.filter(pl.col(SOURCE_DOCUMENT).is_in(sorted(refiled)))
                gone -= set(renamed.get_column(EXTERNAL_ID).to_list())
            leaving = set(excluded) - gone
            if old is not None and fresh.height == 0 and not leaving and not refiled:
                return old
            held = self._stored(old) if held is None else held
            kept = held.filter(~pl.col(SOURCE_DOCUMENT).is_in(sorted(refiled)))
            stored = pl.concat([kept, fresh]) if old else fresh
            left = stored.filter(pl.col(EXTERNAL_ID).is_in(sorted(leaving)))
            left = left.select(EXCLUSION_ROWS.names())
            if old is not None and fresh.height == 0 and left.height == 0 and not refiled:
                return old
            n_buckets = old.buckets if old else buckets
            used = {**(old.decimals if old else {})}
            for code in fresh.get_column(CURRENCY).unique().to_list():
                used[code] = decimals[code]
            self._remove_orphans(old)
            sync = uuid.uuid4().hex
            if refiled:
                # Rewritten whole: the refiled rows' old files also hold other documents' rows.
                dropped = stored.filter(pl.col(EXTERNAL_ID).is_in(sorted(gone | leaving)))
                written = stored
                left = dropped.select(EXCLUSION_ROWS.names())
            else:
                written = fresh
            files = self._write(written, n_buckets, DATA, FROM_ACCOUNT, sync)
            exclusion_files = self._write(left, n_buckets, EXCLUSIONS, FROM_ACCOUNT, sync)
            every = _without(stored, gone | set(left.get_column(EXTERNAL_ID)))
            # Rewritten whole: a new transaction changes the counts of both its accounts.
            degree_files = self._write(_degrees(every), n_buckets, DEGREES, "account", sync)
            fingerprint = Ledger.from_frame(
                engine_frame(every, used), currency_decimals=used
            ).fingerprint
            documents = tuple(sorted(known | set(fresh.get_column(SOURCE_DOCUMENT))))
            manifest = Manifest(
                id=fingerprint,
                buckets=n_buckets,
                transactions=every.height,
                decimals=dict(sorted(used.items())),
                documents=documents,
                files=(*(old.files if old and not refiled else ()), *files),
                degree_files=tuple(degree_files),
                previous=old.id if old else None,
                committed_at=datetime.now(UTC).isoformat(),
                exclusion_files=(
                    *(old.exclusion_files if old and not refiled else ()),
                    *exclusion_files,
                ),
                filed={d: filed[d] for d in documents if d in filed},
            )
            self._commit(manifest)
            return manifest

    def _write(
        self, rows: pl.DataFrame, n_buckets: int, kind: str, key: str, sync: str
    ) -> list[LakeFile]:
        keys = rows.get_column(key).unique()
        table = pl.DataFrame(
            {key: keys, "bucket": [bucket_of(k, n_buckets) for k in keys.to_list()]},
            schema={key: pl.String, "bucket": pl.Int64},
        )
        placed = rows.join(table, on=key, how="left")
        order = {DATA: SORT_KEY, DEGREES: ("account", CURRENCY)}.get(kind, (EXTERNAL_ID,))
        files = []
        for (bucket,), part in sorted(placed.partition_by("bucket", as_dict=True).items()):
            relative = f"{kind}/bucket={int(bucket):04d}/part-{sync}.parquet"
            target = self.root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            part.drop("bucket").sort(order).write_parquet(target, statistics=True)
            files.append(LakeFile(relative, int(bucket), part.height, target.stat().st_size))
        return files

    def _commit(self, manifest: Manifest) -> None:
        kept = self.root / "_manifests" / f"{manifest.id}.json"
        kept.parent.mkdir(parents=True, exist_ok=True)
        _write_durably(kept, manifest.to_json())
        staged = self.root / f"{MANIFEST}.{uuid.uuid4().hex}.tmp"
        _write_durably(staged, manifest.to_json())
        os.replace(staged, self.root / MANIFEST)  # the commit: one atomic rename
        _sync_dir(self.root)

    def _remove_orphans(self, manifest: Manifest | None) -> None:
        """Delete what an interrupted sync left: data files and staged manifests no one lists."""
        listed = (
            {f.path for f in (*manifest.files, *manifest.degree_files, *manifest.exclusion_files)}
            if manifest
            else set()
        )
        for path in self.root.glob("*/bucket=*/*.parquet"):
            if str(path.relative_to(self.root)) not in listed:
                path.unlink()
        for path in self.root.glob(f"{MANIFEST}.*.tmp"):
            path.unlink()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "_sync.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one sync at a time; readers never wait
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _without(rows: pl.DataFrame, excluded: set[str]) -> pl.DataFrame:
    """``rows`` less those whose external id is in ``excluded``."""
    if not excluded:
        return rows
    return rows.filter(~pl.col(EXTERNAL_ID).is_in(sorted(excluded)))


def _degrees(rows: pl.DataFrame) -> pl.DataFrame:
    """Distinct counterparties of every (account, currency), as the ledger index counts them."""
    sides = pl.concat(
        [
            rows.select(
                pl.col(FROM_ACCOUNT).alias("account"), CURRENCY, pl.col(TO_ACCOUNT).alias("other")
            ),
            rows.select(
                pl.col(TO_ACCOUNT).alias("account"), CURRENCY, pl.col(FROM_ACCOUNT).alias("other")
            ),
        ]
    )
    counted = sides.group_by("account", CURRENCY).agg(pl.col("other").n_unique().alias("degree"))
    return counted.cast(DEGREE_ROWS)


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
