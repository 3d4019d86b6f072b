"""The result's columns built through Polars' internals equal those of its public constructors,
which serve instead on a Polars whose internals changed (tracing.columns)."""

from __future__ import annotations

import pytest

from tests.tracing.factories import at, ledger
from tracing import TraceParams, build, columns, trace

PLAIN = {
    name: getattr(columns, f"_plain_{name}")
    for name in ("ints", "bools", "texts", "cast", "nulls", "take", "nullable", "frame")
}
LEDGER = (
    ("T1", "acct:A", "acct:B", "100.00", at(0)),
    ("T2", "acct:B", "acct:C", "60.00", at(1)),
    ("T3", "acct:B", "acct:D", "40.00", at(2)),
    ("T4", "acct:X", "acct:B", "10.00", at(1, 6)),
)


@pytest.mark.parametrize("rule", ["reach", "fifo", "libr", "haircut"])
def test_the_public_constructors_build_the_same_frames(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = TraceParams(seed_transactions=("T1",), rule=rule)
    fast = trace(ledger(*LEDGER), params).to_frames()
    for name, plain in PLAIN.items():
        monkeypatch.setattr(build, name, plain)
    slow = trace(ledger(*LEDGER), params).to_frames()
    assert fast.keys() == slow.keys()
    for name, frame in fast.items():
        assert frame.schema == slow[name].schema, name
        assert frame.equals(slow[name]), name
