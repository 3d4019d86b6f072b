"""Which cases a trace read (app.trace.filing.Filing.read_by), from each node's case codes."""

import numpy as np

from app.compartments import Compartments
from app.trace.filing import Filing
from tests.tracing.factories import at, ledger
from tracing import TraceParams, TraceResult, trace


def _read_by_transactions(led, filing: Filing, result, compartments: Compartments) -> list[int]:
    """The rule spelled out: the admitted cases of every transaction of a reached account."""
    reached = set(result.accounts.get_column("account").to_list())
    keys = led.account_keys.to_list()
    cases = set()
    for position in range(led.n_transactions):
        code = int(filing.codes[position])
        ends = {
            keys[led.node_account[led.src[position]]],
            keys[led.node_account[led.dst[position]]],
        }
        if code and ends & reached and compartments.admits(filing.cases[code - 1]):
            cases.add(filing.cases[code - 1])
    return sorted(cases)


def test_a_trace_reads_the_admitted_cases_filed_on_the_accounts_it_reached() -> None:
    led = ledger(
        ("T1", "seed", "X", "100.00", at(1)),
        ("T2", "X", "Y", "60.00", at(2)),  # case 7
        ("T3", "Q", "X", "5.00", at(2)),  # case 9: X's, though the trace never follows it
        ("T4", "Y", "Z", "60.00", at(3)),
        ("T5", "P", "W", "1.00", at(3)),  # case 8: no reached account
    )
    filing = Filing(np.array([0, 1, 3, 0, 2], np.uint16), (7, 8, 9), "digest")
    result = trace(led, TraceParams(seed_transactions=("T1",), rule="fifo"))
    everyone = Compartments(every=True)
    member_of_7 = Compartments(every=False, cases=frozenset({7}))
    outsider = Compartments(every=False)
    assert filing.read_by(led, result, everyone) == [7, 9]
    assert filing.read_by(led, result, member_of_7) == [7]
    assert filing.read_by(led, result, outsider) == []
    for who in (everyone, member_of_7, outsider):
        assert filing.read_by(led, result, who) == _read_by_transactions(led, filing, result, who)
    # a result read back from storage has no nodes: its accounts' keys are looked up
    stored = TraceResult.from_frames(
        result.to_frames(), summary=result.summary, provenance=result.provenance
    )
    assert stored.reached_nodes is None
    assert filing.read_by(led, stored, member_of_7) == [7]


def test_with_many_cases_the_cases_read_are_the_same() -> None:
    """Past 63 cases the per-node bits take a second word, past 255 they are not kept as bits:
    the answer must not change."""
    led = ledger(
        ("T1", "seed", "X", "100.00", at(1)),
        ("T2", "X", "Y", "60.00", at(2)),
        ("T3", "Q", "X", "5.00", at(2)),
        ("T4", "P", "W", "1.00", at(3)),
    )
    result = trace(led, TraceParams(seed_transactions=("T1",), rule="fifo"))
    for cases in (tuple(range(1, 4)), tuple(range(1, 101)), tuple(range(1, 301))):
        codes = np.array([0, 2, len(cases), 1], np.uint16)  # T4: no reached account
        filing = Filing(codes, cases, "digest")
        member = Compartments(every=False, cases=frozenset({cases[-1]}))
        assert filing.read_by(led, result, Compartments(every=True)) == [2, cases[-1]]
        assert filing.read_by(led, result, member) == [cases[-1]]
        assert (filing._node_codes(led)[2] is None) == (len(cases) > 255)
