"""The lake's Parquet layout, incremental sync by source document, and atomic commits.

No Spark here: the lake is written and read with Polars.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import polars as pl
import pytest

from lake import Lake
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
