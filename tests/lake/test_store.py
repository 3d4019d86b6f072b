"""The lake's Parquet layout, incremental sync by source document, and atomic commits.

No Spark here: the lake is written and read with Polars.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import polars as pl
import pytest

from lake import Lake, Manifest
from lake.store import bucket_of
from tests.lake.conftest import lake_rows
from tests.tracing.factories import at, frame
from tracing import InvalidLedger, Ledger

FIRST = frame(
    ("T1", "acct:A", "acct:B", "100.00", at(0)),
    ("T2", "acct:B", "acct:C", "60.00", at(1)),
    ("T3", "acct:A", "acct:C", "10.00", at(1)),
)
SECOND = frame(
    ("T4", "acct:C", "acct:D", "50.00", at(2)),
    ("T5", "acct:A", "acct:D", "5.00", at(0, 6)),  # earlier than rows already synced
)


def test_sync_writes_hash_buckets_sorted_inside_and_names_the_fingerprint(tmp_path) -> None:
    lake = Lake(tmp_path)
    manifest = lake.append(lake_rows(FIRST), decimals={"EUR": 2}, buckets=8)
    assert manifest.id == Ledger.from_frame(FIRST).fingerprint
    assert manifest.transactions == 3
    assert manifest.documents == ("doc-1",)
    for file in manifest.files:
        assert file.path.startswith(f"transactions/bucket={file.bucket:04d}/")
        rows = pl.read_parquet(tmp_path / file.path)
        assert {bucket_of(a, 8) for a in rows["from_account"]} == {file.bucket}
        assert rows.equals(rows.sort("time_us", "sequence", "external_id"))
    # Spark computes the same bucket with crc32 of the key's UTF-8 bytes.
    assert bucket_of("iban:DE89ß", 8) == zlib.crc32("iban:DE89ß".encode()) % 8
    assert lake.degrees(manifest, [("acct:A", "EUR"), ("acct:C", "EUR"), ("acct:Z", "EUR")]) == {
        ("acct:A", "EUR"): 2,
        ("acct:C", "EUR"): 2,
        ("acct:Z", "EUR"): 0,
    }


def test_sync_is_incremental_by_source_document(tmp_path) -> None:
    lake = Lake(tmp_path)
    first = lake.append(lake_rows(FIRST, "doc-1"), decimals={"EUR": 2})
    both = pl.concat([lake_rows(FIRST, "doc-1"), lake_rows(SECOND, "doc-2")])
    second = lake.append(both, decimals={"EUR": 2})
    # Only doc-2's rows were written; doc-1's files are those of the first sync.
    assert second.files[: len(first.files)] == first.files
    assert sum(f.rows for f in second.files[len(first.files) :]) == 2
    assert second.documents == ("doc-1", "doc-2")
    assert second.previous == first.id
    assert second.id == Ledger.from_frame(pl.concat([FIRST, SECOND])).fingerprint
    assert lake.rows()["external_id"].to_list() == ["T5", "T1", "T2", "T3", "T4"]
    # Nothing new: the manifest in force is returned and nothing is written.
    assert lake.append(both, decimals={"EUR": 2}) == second
    assert (tmp_path / "_manifests" / f"{first.id}.json").exists()


def test_rows_leaving_the_ledger_are_listed_by_bucket_and_dropped_on_every_read(tmp_path) -> None:
    lake = Lake(tmp_path)
    first = lake.append(lake_rows(FIRST, "doc-1"), decimals={"EUR": 2}, buckets=8)
    both = pl.concat([lake_rows(FIRST, "doc-1"), lake_rows(SECOND, "doc-2")])
    # T3 (synced before) leaves; T4 enters and leaves in the same sync; an unknown id is ignored.
    second = lake.append(both, decimals={"EUR": 2}, excluded={"T3", "T4", "T9"})
    kept = pl.concat([FIRST, SECOND]).filter(~pl.col("external_id").is_in(["T3", "T4"]))
    assert second.id == Ledger.from_frame(kept).fingerprint
    assert second.transactions == 3
    assert second.files[: len(first.files)] == first.files  # data files are never rewritten
    assert sum(f.rows for f in second.files) == 5
    # One exclusion file per bucket of the rows' source accounts (A for T3, C for T4).
    assert sorted((f.bucket, f.rows) for f in second.exclusion_files) == sorted(
        [(bucket_of("acct:A", 8), 1), (bucket_of("acct:C", 8), 1)]
    )
    for file in second.exclusion_files:
        assert file.path.startswith(f"exclusions/bucket={file.bucket:04d}/")
    assert lake.rows()["external_id"].to_list() == ["T5", "T1", "T2"]
    # A's counterparties: B (T1) and D (T5); C went with T3. C's only one left is B (T2).
    assert lake.degrees(second, [("acct:A", "EUR"), ("acct:C", "EUR")]) == {
        ("acct:A", "EUR"): 2,
        ("acct:C", "EUR"): 1,
    }
    # An exclusion alone is a sync; one already carried changes nothing.
    third = lake.append(both, decimals={"EUR": 2}, excluded={"T1", "T3"})
    assert (third.previous, third.transactions, third.files) == (second.id, 2, second.files)
    assert third.id == Ledger.from_frame(kept.filter(pl.col("external_id") != "T1")).fingerprint
    assert lake.append(both, decimals={"EUR": 2}, excluded={"T1"}) == third
    assert lake.rows(second)["external_id"].to_list() == ["T5", "T1", "T2"]
    assert Manifest.from_json(third.to_json()) == third
    # A manifest written before exclusions existed reads as one without any.
    older = json.loads(first.to_json())
    del older["exclusion_files"]
    assert Manifest.from_json(json.dumps(older)) == first


def test_a_sync_that_breaks_a_ledger_rule_commits_nothing(tmp_path) -> None:
    lake = Lake(tmp_path)
    first = lake.append(lake_rows(FIRST, "doc-1"), decimals={"EUR": 2})
    with pytest.raises(InvalidLedger, match="duplicate external_id"):
        lake.append(lake_rows(FIRST, "doc-2"), decimals={"EUR": 2})
    assert lake.manifest() == first


_KILLED_SYNC = """
import os, signal, sys
import polars as pl
from lake import Lake
real_replace = os.replace
def die(src, dst):
    # Everything is written but the commit's rename: the worst moment to die.
    os.kill(os.getpid(), signal.SIGKILL)
os.replace = die
rows = pl.read_parquet(sys.argv[2])
Lake(sys.argv[1]).append(rows, decimals={"EUR": 2})
"""


def test_a_sync_killed_midway_leaves_the_previous_manifest_in_force(tmp_path) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    first = lake.append(lake_rows(FIRST, "doc-1"), decimals={"EUR": 2})
    both = pl.concat([lake_rows(FIRST, "doc-1"), lake_rows(SECOND, "doc-2")])
    both.write_parquet(tmp_path / "rows.parquet")
    script = textwrap.dedent(_KILLED_SYNC)
    done = subprocess.run(
        [sys.executable, "-c", script, str(root), str(tmp_path / "rows.parquet")],
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == -9  # killed, not finished
    # The killed sync wrote its files, but no reader sees them.
    on_disk = {str(p.relative_to(root)) for p in root.glob("*/bucket=*/*.parquet")}
    listed = {f.path for f in (*first.files, *first.degree_files)}
    assert on_disk > listed
    assert lake.manifest() == first
    assert lake.rows()["external_id"].to_list() == ["T1", "T2", "T3"]
    # The next sync removes what the killed one left and commits everything.
    second = lake.append(both, decimals={"EUR": 2})
    on_disk = {str(p.relative_to(root)) for p in root.glob("*/bucket=*/*.parquet")}
    # The first sync's degree tables stay one sync longer, for searches still reading them.
    kept = {f.path for f in (*second.files, *second.degree_files, *first.degree_files)}
    assert on_disk == kept
    assert not list(root.glob("_manifest.json.*.tmp"))
    assert second.transactions == 5
    assert second.previous == first.id
