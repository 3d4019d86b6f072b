"""The flow-of-funds chart, drawn from engine results and read back as SVG text.

No database: the chart is a function of a trace result, the holders' names and a caption. The
large case is the demo embedded in a generated ledger of 10,000 more accounts whose keys sort
before the demo's, so a chart that chose by key order would show none of the demo's holders.
"""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from app.demo.service import DEMO_REFERENCE, EXCHANGE_ACCOUNT, SEED_TRANSACTIONS
from app.trace.chart_plan import ChartPlan, fold_key, plan_chart
from app.trace.render import Caption, draw, role_letters
from tests.demo_ledger import chain_cash, demo_accounts, demo_ledger_frame, generated_seeds
from tracing import Ledger, Rule, TraceParams, TraceResult, trace

SVG_TEXT = "{http://www.w3.org/2000/svg}text"
NOW = datetime(2026, 12, 6, 14, 30, tzinfo=UTC)
NORDLICHT = "iban:DE75512108001245126199"
LIMASSOL = "iban:CY17002001280000001200527600"
DEMO_HOLDERS = (
    "Anna Berger",
    "Ben Kraus",
    "Chris de Vries",
    "Nordlicht Handels GmbH",
    "Horizon Consulting Ltd",
    "Limassol Holdings Ltd",
    "Vega Exchange Ltd",
    "Notariat Dr. Weber",
    "Maria Schulz",
)


def traced(*, chains: int = 0, customers: int = 0, rule: Rule = Rule.LIBR) -> TraceResult:
    frame = demo_ledger_frame(chains=chains, customers=customers)
    ledger = Ledger.from_frame(frame, currency_decimals={"EUR": 2})
    seeds = SEED_TRANSACTIONS + generated_seeds(chains)
    return trace(ledger, TraceParams(seed_transactions=seeds, rule=rule))


def svg_of(plan: ChartPlan, result: TraceResult, **options: object) -> bytes:
    accounts = demo_accounts()
    kwargs: dict[str, object] = {
        "holders": {key: name for key, (name, _) in accounts.items()},
        "details": {key: bank for key, (_, bank) in accounts.items() if bank},
        "title": "Trace of the demo",
        "caption": Caption(
            case_reference=DEMO_REFERENCE,
            generated_at=NOW,
            ledger_fingerprint=result.provenance.ledger_fingerprint,
        ),
        "fmt": "svg",
    }
    return draw(plan, **(kwargs | options))  # type: ignore[arg-type]


def texts(svg: bytes) -> list[str]:
    """Every text element of the SVG, in document order (one per line of a label)."""
    return ["".join(e.itertext()) for e in ET.fromstring(svg).iter(SVG_TEXT)]


def label_after(lines: list[str], first: str, size: int) -> list[str]:
    at = lines.index(first)
    return lines[at : at + size]


def fold_labels(lines: list[str]) -> set[tuple[str, ...]]:
    """Each fold's label: its count, what its accounts received, what they hold."""
    return {tuple(lines[i : i + 3]) for i, line in enumerate(lines) if line.endswith(" accounts")}


def held_by_hop(accounts: pl.DataFrame) -> dict[int, Decimal]:
    sums = accounts.group_by("hops").agg(pl.col("held").fill_null(0).sum())
    return {int(h): Decimal(v) for h, v in sums.iter_rows()}


@pytest.fixture(scope="module")
def large() -> TraceResult:
    # 3 x 3,000 chained accounts beside the demo's seeds, hop 1 and hop 2, and 1,000 customers
    # the exchange pays after the demo's money reached it: 10,011 accounts with the demo's 11.
    return traced(chains=3000, customers=1000)


def test_the_chart_of_10000_accounts_names_the_demo_holders(large: TraceResult) -> None:
    assert large.accounts.height == 10_011
    plan = plan_chart(large)
    lines = texts(svg_of(plan, large))
    for name in DEMO_HOLDERS:
        assert name in lines, name
    # Under each name its bank; amounts exact, without thousands separators, as in the report.
    assert label_after(lines, "Limassol Holdings Ltd", 3) == [
        "Limassol Holdings Ltd",
        "Bank of Cyprus",
        "holds 10900.00 EUR",
    ]
    assert "12900.00 EUR" in lines  # Anna Berger -> Nordlicht, the taint of two deposits
    assert not [line for line in lines if "," in line and "EUR" in line]
    # Each column: its hop, its number of accounts and the dates they were first reached.
    assert label_after(lines, "seeds · 3003 accounts", 2)[1] == "2026-01-05 \N{EN DASH} 2026-01-07"
    assert "hop 4 · 1000 accounts" in lines
    # The exchange's customers carried no taint (LIBR): the whole column folds, key order aside.
    assert label_after(lines, "1000 accounts", 3) == [
        "1000 accounts",
        "received 0.00 EUR",
        "holds 0.00 EUR",
    ]
    assert not [line for line in lines if line.startswith("acct:009")]
    assert lines[-1] == (
        f"Case {DEMO_REFERENCE} · generated 2026-12-06T14:30:00Z · "
        f"ledger fingerprint {large.provenance.ledger_fingerprint}"
    )


def test_folded_totals_are_the_exact_sums_of_what_they_fold(large: TraceResult) -> None:
    plan = plan_chart(large)
    lines = texts(svg_of(plan, large))
    folds = {(count, holds) for count, _, holds in fold_labels(lines)}
    shown = large.accounts.filter(pl.col("account").is_in(plan.accounts))
    shown_held = held_by_hop(shown)
    for hop, column_held in held_by_hop(large.accounts).items():
        fold = next((n for n in plan.nodes if n.key == fold_key(hop)), None)
        if fold is None:
            continue
        folded_held = column_held - shown_held.get(hop, Decimal(0))
        drawn = sum(1 for n in plan.nodes if n.hop == hop and not n.folded)
        first = f"{fold.folded} more accounts" if drawn else f"{fold.folded} accounts"
        assert (first, f"holds {folded_held:.2f} EUR") in folds
        assert drawn + fold.folded == large.accounts.filter(pl.col("hops") == hop).height
    # Worked for hop 2: 3,000 chain ends hold a quarter of each cash deposit; the nine largest
    # are drawn beside the demo's three accounts, the other 2,991 fold.
    ends = [chain_cash(n) / 4 for n in range(1, 3001)]
    nine = sorted(ends, reverse=True)[:9]
    assert fold_of(plan, 2).held == {"EUR": sum(ends) - sum(nine)}
    assert fold_of(plan, 2).folded == 2991


def fold_of(plan: ChartPlan, hop: int):
    return next(n for n in plan.nodes if n.key == fold_key(hop))


@pytest.fixture(scope="module")
def demo() -> TraceResult:
    return traced()


def test_the_demo_chart_drops_edges_that_carried_nothing_unless_asked(demo: TraceResult) -> None:
    # Under LIBR Limassol spends its own money first: the 12,000.00 to the exchange is clean.
    plain = texts(svg_of(plan_chart(demo), demo))
    every = texts(svg_of(plan_chart(demo, empty_edges=True), demo))
    assert "0.00 EUR" not in plain
    assert "0.00 EUR" in every
    assert "Vega Exchange Ltd" in plain  # the account stays; only the empty edge goes


def test_the_label_under_a_name_is_the_bank_else_the_iban(demo: TraceResult) -> None:
    lines = texts(svg_of(plan_chart(demo), demo, details={}))
    assert label_after(lines, "Anna Berger", 3) == [
        "Anna Berger",
        "DE44500105175407324931",
        "holds 5100.00 EUR",
    ]
    assert "ext:Autohaus Premium GmbH" in lines  # no holder known: the key itself


def test_a_narrow_chart_folds_and_its_folds_add_up(demo: TraceResult) -> None:
    plan = plan_chart(demo, per_column=1)
    # Seeds: Ben Kraus passed on the most (18,700.00) and is drawn; Anna Berger (received
    # 18,000.00, holds 5,100.00) and Chris de Vries (9,800.00, 300.00) fold. Hop 1: Nordlicht
    # (24,900.00 through it) is drawn; Horizon (15,500.00, holds 2,500.00) and REWE (nothing)
    # fold.
    assert fold_labels(texts(svg_of(plan, demo))) >= {
        ("2 more accounts", "received 27800.00 EUR", "holds 5400.00 EUR"),
        ("2 more accounts", "received 15500.00 EUR", "holds 2500.00 EUR"),
    }
    assert {"Ben Kraus", "Nordlicht Handels GmbH"} <= set(texts(svg_of(plan, demo)))


def test_roles_are_letter_badges_explained_in_the_legend(demo: TraceResult) -> None:
    roles = {NORDLICHT: ["pass_through", "collector"], LIMASSOL: ["sink"], "acct:x": ["broker"]}
    lines = texts(svg_of(plan_chart(demo), demo, roles=roles))
    assert "C P" in lines
    assert "S" in lines
    assert {"C  collector", "P  pass-through", "S  sink"} <= set(lines)
    assert "B  broker" not in lines  # an account not drawn marks nothing
    assert role_letters({"a": ["sink", "stopped"]}) == {"sink": "S", "stopped": "St"}


def test_the_same_trace_draws_the_same_svg(demo: TraceResult) -> None:
    assert svg_of(plan_chart(demo), demo) == svg_of(plan_chart(demo), demo)
    png = svg_of(plan_chart(demo), demo, fmt="png")
    assert png.startswith(b"\x89PNG")


def test_an_exchange_stop_is_drawn_as_an_exit() -> None:
    ledger = Ledger.from_frame(demo_ledger_frame(chains=0, customers=0))
    params = TraceParams(
        seed_transactions=SEED_TRANSACTIONS, rule=Rule.FIFO, stop_at=(EXCHANGE_ACCOUNT,)
    )
    plan = plan_chart(trace(ledger, params))
    (exchange,) = (n for n in plan.nodes if n.key == EXCHANGE_ACCOUNT)
    assert exchange.kind == "stopped"


def test_a_reachability_chart_weighs_by_the_amounts_moved() -> None:
    ledger = Ledger.from_frame(demo_ledger_frame(chains=0, customers=0))
    result = trace(ledger, TraceParams(seed_transactions=SEED_TRANSACTIONS, rule=Rule.REACH))
    plan = plan_chart(result, per_column=2)
    lines = texts(svg_of(plan, result))
    # No taint is attributed: the accounts that received the most are drawn, the edges carry
    # what moved, and a fold counts its accounts without inventing amounts.
    assert {"Nordlicht Handels GmbH", "Horizon Consulting Ltd", "25000.00 EUR"} <= set(lines)
    assert label_after(lines, "1 more account", 2)[1] != "received 0.00 EUR"
    assert not [line for line in lines if re.match(r"(holds|received) \d", line)]
