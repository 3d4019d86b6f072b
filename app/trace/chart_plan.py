"""What a trace's chart shows: the significant accounts of each hop, the rest folded.

A column stays readable up to a dozen accounts. Each hop's column shows first the seeds and the
accounts on the strongest paths to the largest holdings, then the accounts that held or passed
on the most taint (ties by key); the rest of the column folds into one node carrying their
count and totals, which are the exact sums of what it folds. A trace of 16,000 accounts thus
shows where the money went, not the first keys in sort order.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import polars as pl

from tracing import TraceResult, TracingError, explain

# A column taller than this stops being readable; the rest of the hop folds into one node.
PER_COLUMN = 12
# The strongest paths to this many of the largest holdings are always shown, k paths each.
PATH_HOLDINGS, PATHS_EACH = 5, 2
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartNode:
    """One drawn node: an account, or the fold of a column's other accounts (`folded` > 0)."""

    key: str
    hop: int
    kind: str  # seed, held, reached, stopped, high_degree, fold
    held: dict[str, Decimal] = field(default_factory=dict)  # by currency
    received: dict[str, Decimal] = field(default_factory=dict)
    folded: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartEdge:
    source: str
    target: str
    currency: str
    traced: Decimal  # the taint carried (the amount moved, for reachability)
    transactions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartColumn:
    hop: int
    accounts: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartPlan:
    nodes: tuple[ChartNode, ...]  # column by column, each top to bottom
    edges: tuple[ChartEdge, ...]
    columns: tuple[ChartColumn, ...]

    @property
    def accounts(self) -> list[str]:
        """The keys of the accounts drawn (their holders are the labels to look up)."""
        return [n.key for n in self.nodes if not n.folded]


def fold_key(hop: int) -> str:
    return f"fold:{hop}"


def plan_chart(
    result: TraceResult, *, per_column: int = PER_COLUMN, empty_edges: bool = False
) -> ChartPlan:
    """Choose the accounts to draw and fold the rest; `empty_edges` keeps the transfers that
    carried no taint (dropped by default: they are the trail, not the money)."""
    accounts = _ranked(result, _on_strong_paths(result))
    column_rank = pl.int_range(pl.len()).over("hops")
    crowded = pl.len().over("hops") > per_column
    # In a column that folds, an account that carried nothing folds too, whatever its key.
    significant = pl.col("is_seed") | pl.col("on_path") | (pl.col("score") > 0)
    drawn = (column_rank < per_column) & (~crowded | significant)
    accounts = accounts.with_columns(drawn.alias("shown"))
    shown, folded = accounts.filter("shown"), accounts.filter(~pl.col("shown"))
    where = dict(zip(shown["account"], shown["account"], strict=True))
    where |= {a: fold_key(h) for a, h in zip(folded["account"], folded["hops"], strict=True)}
    edges = _edges(result, where, empty_edges=empty_edges)
    nodes = [_account_node(result, row) for row in shown.iter_rows(named=True)]
    nodes += _fold_nodes(result, folded)
    return ChartPlan(
        nodes=tuple(_ordered(nodes, edges)), edges=tuple(edges), columns=_columns(result)
    )


def _on_strong_paths(result: TraceResult) -> set[str]:
    """The accounts on the strongest paths to the largest holdings (forward value traces)."""
    params = result.provenance.params
    if params.get("direction") != "forward" or result.provenance.rule == "reach":
        return set()
    largest = (
        result.accounts.filter(pl.col("held").fill_null(ZERO) > 0)
        .sort(["held", "account"], descending=[True, False])
        .head(PATH_HOLDINGS)
    )
    on_paths: set[str] = set()
    for account, currency in largest.select("account", "currency").iter_rows():
        try:
            paths = explain(result, to=account, currency=currency, k=PATHS_EACH)
        except TracingError:  # an account no path reaches (a seed) has none to show
            continue
        on_paths.update(paths["from_account"].to_list(), paths["to_account"].to_list())
    return on_paths


def _ranked(result: TraceResult, on_paths: set[str]) -> pl.DataFrame:
    """One row per account (its currencies together), most significant first in each hop."""
    frame = result.accounts
    if result.provenance.rule != "reach":
        score = sum(
            (pl.col(c).fill_null(ZERO) for c in ("held", "passed_on", "exited")), pl.lit(ZERO)
        )
    else:  # reachability attributes no taint: the amounts that arrived
        arrived = result.flows.group_by("to_account").agg(pl.col("amount").sum().alias("_in"))
        frame = frame.join(arrived, left_on="account", right_on="to_account", how="left")
        score = pl.col("_in").fill_null(ZERO)
    per_account = frame.group_by("account").agg(
        pl.col("hops").min(),
        (pl.col("role") == "seed").any().alias("is_seed"),
        pl.col("account").is_in(list(on_paths)).any().alias("on_path"),
        score.sum().alias("score"),
    )
    return per_account.sort(
        ["hops", "is_seed", "on_path", "score", "account"],
        descending=[False, True, True, True, False],
    )


def _amounts(frame: pl.DataFrame, column: str) -> dict[str, Decimal]:
    """Totals by currency; none where the rule attributes no amounts (reachability)."""
    known = frame.filter(pl.col(column).is_not_null())
    sums = known.group_by("currency").agg(pl.col(column).sum()).sort("currency")
    return {c: Decimal(v) for c, v in sums.iter_rows()}


def _account_node(result: TraceResult, row: dict[str, object]) -> ChartNode:
    mine = result.accounts.filter(pl.col("account") == row["account"])
    held = {c: v for c, v in _amounts(mine, "held").items() if v > 0}
    roles = set(mine["role"].to_list())
    role = next((r for r in ("seed", "stopped", "high_degree") if r in roles), "reached")
    kind = role if role == "seed" or not held else "held"
    return ChartNode(
        key=str(row["account"]),
        hop=int(str(row["hops"])),
        kind=kind,
        held=held,
        received=_amounts(mine, "received"),
    )


def _fold_nodes(result: TraceResult, folded: pl.DataFrame) -> list[ChartNode]:
    rows = result.accounts.join(folded.select("account", "hops"), on="account", suffix="_min")
    nodes = []
    for (hop,), group in rows.group_by(["hops_min"], maintain_order=True):
        nodes.append(
            ChartNode(
                key=fold_key(int(hop)),
                hop=int(hop),
                kind="fold",
                held=_amounts(group, "held"),
                received=_amounts(group, "received"),
                folded=group["account"].n_unique(),
            )
        )
    return sorted(nodes, key=lambda n: n.hop)


def _edges(result: TraceResult, where: dict[str, str], *, empty_edges: bool) -> list[ChartEdge]:
    mapping = pl.DataFrame(
        {"account": list(where), "node": list(where.values())},
        schema={"account": pl.String, "node": pl.String},
    )
    flows = (
        result.flows.with_columns(
            pl.coalesce(pl.col("traced"), pl.col("amount")).fill_null(ZERO).alias("carried")
        )
        .join(mapping.rename({"node": "source"}), left_on="from_account", right_on="account")
        .join(mapping.rename({"node": "target"}), left_on="to_account", right_on="account")
        .filter(pl.col("source") != pl.col("target"))
    )
    grouped = (
        flows.group_by("source", "target", "currency")
        .agg(pl.col("carried").sum(), pl.len().alias("n"))
        .sort("source", "target", "currency")
    )
    if not empty_edges:
        grouped = grouped.filter(pl.col("carried") > 0)
    return [
        ChartEdge(source=s, target=t, currency=c, traced=Decimal(w), transactions=n)
        for s, t, c, w, n in grouped.iter_rows()
    ]


def _columns(result: TraceResult) -> tuple[ChartColumn, ...]:
    hops = (
        result.accounts.group_by("account")
        .agg(pl.col("hops").min(), pl.col("reached_at").min())
        .group_by("hops")
        .agg(
            pl.len().alias("n"),
            pl.col("reached_at").min().alias("first"),
            pl.col("reached_at").max().alias("last"),
        )
        .sort("hops")
    )
    return tuple(
        ChartColumn(hop=h, accounts=n, first=first, last=last)
        for h, n, first, last in hops.iter_rows()
    )


def _ordered(nodes: list[ChartNode], edges: Iterable[ChartEdge]) -> list[ChartNode]:
    """Each column's nodes ordered to keep edges from crossing (barycentre sweeps); a fold
    node stays at the foot of its column."""
    links = [(e.source, e.target, float(e.traced)) for e in edges if e.source != e.target]
    layers: dict[int, list[ChartNode]] = {}
    for node in nodes:
        layers.setdefault(node.hop, []).append(node)
    columns = [layers[h] for h in sorted(layers)]
    rank = {n.key: float(i) for column in columns for i, n in enumerate(column)}

    def sweep(column: list[ChartNode], *, incoming: bool) -> None:
        def centre(node: ChartNode) -> tuple[bool, float, str]:
            near = [
                (rank[a if incoming else b], max(w, 1e-9))
                for a, b, w in links
                if (b if incoming else a) == node.key and (a if incoming else b) in rank
            ]
            total = sum(w for _, w in near)
            mean = sum(r * w for r, w in near) / total if total else rank[node.key]
            return (node.folded > 0, mean, node.key)

        column.sort(key=centre)
        rank.update((n.key, float(i)) for i, n in enumerate(column))

    for _ in range(2):
        for column in columns[1:]:
            sweep(column, incoming=True)
        for column in reversed(columns[:-1]):
            sweep(column, incoming=False)
    return [node for column in columns for node in column]
