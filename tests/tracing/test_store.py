"""A ledger written to disk and mapped back: the same ledger, shared pages, appends that work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.tracing.factories import at, frame, ledger
from tracing import Rule, TraceParams, store, trace

ROWS = (
    ("T1", "acct:A", "acct:B", "10.00", at(0), "EUR", 1),
    ("T2", "acct:B", "acct:C", "4.00", at(1), "EUR", 2),
    ("T3", "acct:B", "acct:D", "3.00", at(1, 13), "USD", 3),
    ("T4", "acct:C", "acct:A", "1.50", at(2), "EUR", 4),
)
LATER = (("T5", "acct:A", "acct:E", "2.00", at(3), "EUR", 5),)
PARAMS = TraceParams(seed_transactions=("T1",), rule=Rule.FIFO)


def test_a_mapped_ledger_traces_byte_for_byte_like_the_one_saved(tmp_path: Path) -> None:
    built = ledger(*ROWS, opening={"acct:B": "1.00"})
    store.save(built, tmp_path / built.fingerprint)
    mapped = store.load(tmp_path / built.fingerprint)
    assert mapped.fingerprint == built.fingerprint
    assert isinstance(mapped.src.base, np.memmap)  # file pages, not a private copy
    assert mapped.currencies == ("EUR", "USD")
    given, amount = mapped.opening()
    assert given.tolist() == built.opening()[0].tolist()
    assert amount.tolist() == [0, 100, 0, 0, 0]
    assert trace(mapped, PARAMS).to_json_bytes() == trace(built, PARAMS).to_json_bytes()
    # Nothing is left beside the directory: it was written under a temporary name.
    assert [p.name for p in tmp_path.iterdir()] == [built.fingerprint]


def test_appending_to_a_mapped_ledger_continues_its_fingerprint(tmp_path: Path) -> None:
    built = ledger(*ROWS)
    store.save(built, tmp_path / "v1")
    mapped = store.load(tmp_path / "v1")
    grown, expected = mapped.append(frame(*LATER)), built.append(frame(*LATER))
    assert grown.fingerprint == expected.fingerprint == ledger(*ROWS, *LATER).fingerprint
    assert trace(grown, PARAMS).to_json_bytes() == trace(expected, PARAMS).to_json_bytes()
    # The source stays as it was (copy-on-write), and a second append reuses its hashes.
    assert mapped.n_transactions == 4
    assert mapped.append(frame(*LATER)).fingerprint == expected.fingerprint


def test_a_failed_save_leaves_nothing_half_written(tmp_path: Path) -> None:
    occupied = tmp_path / "index"
    occupied.mkdir()
    (occupied / "other").write_text("x")
    with pytest.raises(OSError, match=r"not empty|exists"):
        store.save(ledger(*ROWS), occupied)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
    assert [p.name for p in occupied.iterdir()] == ["other"]


def test_an_index_of_another_format_is_refused(tmp_path: Path) -> None:
    store.save(ledger(*ROWS), tmp_path / "v1")
    meta = json.loads((tmp_path / "v1" / "meta.json").read_text())
    (tmp_path / "v1" / "meta.json").write_text(json.dumps({**meta, "format": 0}))
    with pytest.raises(ValueError, match="another format"):
        store.load(tmp_path / "v1")
