"""A ledger written to disk and mapped back: the same ledger, shared pages, appends that work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.tracing.factories import at, frame, ledger
from tracing import Rule, SameDayPolicy, TraceParams, store, trace

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


@pytest.mark.parametrize("policy", list(SameDayPolicy))
def test_a_mapped_ledgers_replay_order_is_written_once_and_shared(
    tmp_path: Path, policy: SameDayPolicy
) -> None:
    built = ledger(*ROWS, opening={"acct:B": "1.00"})
    store.save(built, tmp_path / "v1")
    first, second = store.load(tmp_path / "v1"), store.load(tmp_path / "v1")
    params = TraceParams(seed_transactions=("T1",), rule=Rule.FIFO, same_day_policy=policy)
    expected = trace(built, params).to_json_bytes()
    assert trace(first, params).to_json_bytes() == expected
    # The first process to need the order wrote it beside the index; the others map that file.
    assert (tmp_path / "v1" / f"order.{policy.value}" / "meta.json").is_file()
    order = second.order(policy)
    assert isinstance(order.day_start.base, np.memmap)
    far, _ = order.aligned(second.src, second.dst, forward=True)
    assert isinstance(far.base, np.memmap)
    assert trace(second, params).to_json_bytes() == expected
    # Its arrays equal the ones computed in memory.
    for name in ("ev_tx", "wd_rank", "dep_rank", "out_idx", "out_rank", "in_idx", "in_rank"):
        assert getattr(order, name).tolist() == getattr(built.order(policy), name).tolist()


def test_an_order_whose_index_was_removed_stays_private(tmp_path: Path) -> None:
    store.save(ledger(*ROWS), tmp_path / "v1")
    mapped = store.load(tmp_path / "v1")
    shutil.rmtree(tmp_path / "v1")  # pruned by another process while this one still maps it
    assert trace(mapped, PARAMS).to_json_bytes() == trace(ledger(*ROWS), PARAMS).to_json_bytes()
    assert not (tmp_path / "v1").exists()
