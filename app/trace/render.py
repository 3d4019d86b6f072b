"""A flow-of-funds chart of a trace: seeds on the left, one column per hop, edges by amount.

The layout is networkx's multipartite layout (layers = hops); matplotlib draws it to SVG or
PNG with its bundled fonts, so nothing is fetched. Beyond `max_nodes` the weakest accounts of
each hop are folded into one "N more accounts" node carrying their total.
"""

import io
from decimal import Decimal
from typing import Any

import matplotlib
import networkx as nx
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from app.trace.results import money
from tracing import TraceResult

matplotlib.rcParams["svg.hashsalt"] = "moneytrail"  # stable element ids: same trace, same SVG
# A column taller than this stops being readable; the rest of the hop folds into one node.
PER_COLUMN = 14
COLOURS = {
    "seed": "#c0392b",
    "held": "#e67e22",
    "stopped": "#7f8c8d",
    "high_degree": "#7f8c8d",
    "reached": "#2e86c1",
    "tail": "#bdc3c7",
}


def _weights(result: TraceResult) -> pl.DataFrame:
    flows = result.flows.with_columns(
        pl.coalesce(pl.col("traced"), pl.col("amount")).alias("weight")
    )
    return (
        flows.group_by("from_account", "to_account", "currency")
        .agg(pl.col("weight").sum(), pl.len().alias("n"))
        .sort("from_account", "to_account", "currency")
    )


def _nodes(result: TraceResult, max_nodes: int) -> tuple[pl.DataFrame, dict[str, str]]:
    """The accounts drawn (seeds, then the strongest of each hop) and where the rest fold."""
    accounts = result.accounts.with_columns(
        pl.coalesce(pl.col("received"), pl.lit(Decimal(0))).alias("size"),
        (pl.col("role") == "seed").alias("is_seed"),
    ).sort(["is_seed", "size", "account"], descending=[True, True, False])
    in_column = pl.int_range(pl.len()).over("hops")
    keep = pl.col("is_seed") | (in_column < PER_COLUMN)
    kept = accounts.filter(keep).head(max_nodes)
    folded = accounts.filter(~pl.col("account").is_in(kept["account"].implode()))
    fold = {row["account"]: f"tail:{row['hops']}" for row in folded.iter_rows(named=True)}
    return kept, fold | {a: a for a in kept["account"]}


def _label(name: str, held: Decimal | None, currency: str) -> str:
    short = name if len(name) <= 28 else name[:26] + "…"
    if held:
        return f"{short}\nholds {_amount(held, currency)} {currency}"
    return short


def _amount(value: Any, currency: str) -> str:
    text = money(value, currency) or "0"
    whole, _, fraction = text.partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def _ordered(kept: pl.DataFrame, weights: pl.DataFrame) -> list[dict[str, Any]]:
    """Each hop's accounts ordered to keep edges from crossing (barycentre sweeps)."""
    layers = [
        list(g.iter_rows(named=True))
        for _, g in kept.sort("hops").group_by(["hops"], maintain_order=True)
    ]
    links = [
        (a, b, float(w))
        for a, b, w in weights.select("from_account", "to_account", "weight").iter_rows()
    ]
    rank: dict[str, float] = {}
    for layer in layers:
        layer.sort(key=lambda r: (-float(r["size"]), r["account"]))
        rank.update((r["account"], float(i)) for i, r in enumerate(layer))

    def sweep(layer: list[dict[str, Any]], *, incoming: bool) -> None:
        def centre(row: dict[str, Any]) -> float:
            me = row["account"]
            near = [
                (rank[a if incoming else b], max(w, 1e-9))
                for a, b, w in links
                if (b if incoming else a) == me and (a if incoming else b) in rank and a != b
            ]
            total = sum(w for _, w in near)
            return sum(r * w for r, w in near) / total if total else rank[me]

        layer.sort(key=lambda r: (centre(r), r["account"]))
        rank.update((r["account"], float(i)) for i, r in enumerate(layer))

    for _ in range(2):
        for layer in layers[1:]:
            sweep(layer, incoming=True)
        for layer in reversed(layers[:-1]):
            sweep(layer, incoming=False)
    return [row for layer in layers for row in layer]


def _graph(result: TraceResult, holders: dict[str, str], max_nodes: int) -> nx.DiGraph:
    kept, where = _nodes(result, max_nodes)
    weights = _weights(result)
    graph = nx.DiGraph()
    for row in _ordered(kept, weights):
        held = row["held"] if row["held"] is not None and row["held"] > 0 else None
        kind = "seed" if row["role"] == "seed" else "held" if held else row["role"]
        graph.add_node(
            row["account"],
            layer=row["hops"],
            kind=kind,
            label=_label(holders.get(row["account"], row["account"]), held, row["currency"]),
        )
    tails = result.accounts.filter(~pl.col("account").is_in(kept["account"].implode()))
    for (hop,), group in tails.group_by(["hops"], maintain_order=True):
        total = group["received"].fill_null(Decimal(0)).sum()
        currency = group["currency"][0]
        graph.add_node(
            f"tail:{hop}",
            layer=hop,
            kind="tail",
            label=f"{group.height} more accounts\n{_amount(total, currency)} {currency}",
        )
    for row in weights.iter_rows(named=True):
        a, b = where.get(row["from_account"]), where.get(row["to_account"])
        if a is None or b is None or a == b:
            continue
        prior = graph.edges[a, b]["weight"] if graph.has_edge(a, b) else Decimal(0)
        graph.add_edge(a, b, weight=prior + row["weight"], currency=row["currency"])
    return graph


def draw(
    result: TraceResult, *, holders: dict[str, str], title: str, fmt: str, max_nodes: int = 48
) -> bytes:
    graph = _graph(result, holders, max_nodes)
    layers: dict[int, int] = {}
    for _, data in graph.nodes(data=True):
        layers[data["layer"]] = layers.get(data["layer"], 0) + 1
    width = 3.2 * max(len(layers), 2) + 1
    height = max(4.0, 1.1 * max(layers.values(), default=1) + 1.5)
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.88))
    ax.set_axis_off()
    figure.suptitle(title, fontsize=11, x=0.02, ha="left")
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "nothing reached", ha="center")
    else:
        _draw_graph(ax, graph)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _draw_graph(ax: Any, graph: nx.DiGraph) -> None:
    placed = nx.multipartite_layout(graph, subset_key="layer", align="vertical", scale=1.0)
    # The layout spaces each hop's column; the rows follow the crossing-reducing order in
    # which `_graph` added the accounts (first at the top).
    position = {}
    for layer in {data for _, data in graph.nodes(data="layer")}:
        members = [n for n, data in graph.nodes(data="layer") if data == layer]
        heights = sorted((placed[n][1] for n in members), reverse=True)
        position.update({n: (placed[n][0], y) for n, y in zip(members, heights, strict=True)})
    heaviest = max((float(w) for *_, w in graph.edges(data="weight")), default=1.0) or 1.0
    widths = [0.6 + 9.0 * float(w) / heaviest for *_, w in graph.edges(data="weight")]
    # An edge that carried no taint is still part of the trail, drawn faint and dashed.
    styles = ["solid" if w > 0 else "dashed" for *_, w in graph.edges(data="weight")]
    nx.draw_networkx_edges(
        graph,
        position,
        ax=ax,
        width=widths,
        edge_color="#5d6d7e",
        alpha=0.55,
        style=styles,
        arrows=True,
        arrowsize=14,
        node_size=900,
        connectionstyle="arc3,rad=0.06",
    )
    colours = [COLOURS.get(kind, COLOURS["reached"]) for _, kind in graph.nodes(data="kind")]
    nx.draw_networkx_nodes(
        graph,
        position,
        ax=ax,
        node_color=colours,
        node_size=900,
        edgecolors="white",
        linewidths=1.5,
    )
    labels = dict(graph.nodes(data="label"))
    shifted = {n: (x, y - 0.06) for n, (x, y) in position.items()}
    nx.draw_networkx_labels(
        graph, shifted, labels=labels, ax=ax, font_size=7.5, verticalalignment="top"
    )
    edge_labels = {
        (a, b): f"{_amount(w, c)} {c}"
        for a, b, w, c in ((a, b, d["weight"], d["currency"]) for a, b, d in graph.edges(data=True))
    }
    nx.draw_networkx_edge_labels(
        graph,
        position,
        edge_labels=edge_labels,
        ax=ax,
        font_size=6.5,
        label_pos=0.3,
        rotate=False,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
    )
    legend = [
        ("seed", "seed account"),
        ("held", "holds taint"),
        ("reached", "passed it on"),
        ("stopped", "stopped / exit"),
        ("tail", "folded accounts"),
    ]
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, color=COLOURS[k], label=t)
        for k, t in legend
    ]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, -0.02),
        ncols=5,
        frameon=False,
        fontsize=7.5,
    )
    ax.margins(0.12, 0.14)
