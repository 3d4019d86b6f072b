"""A flow-of-funds chart of a trace: seeds on the left, one column per hop, edges by amount.

`chart_plan` chooses the accounts; this module draws them with matplotlib (its bundled fonts,
so nothing is fetched) to SVG or PNG. SVG text stays text (`svg.fonttype = none`), so a reader
can search and select the names and amounts. Amounts are written as everywhere else in the
project: exactly, in the currency's decimals, without thousands separators.
"""

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import matplotlib
import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from app.trace.chart_plan import ChartColumn, ChartNode, ChartPlan
from app.trace.results import money

COLOURS = {
    "seed": "#c0392b",
    "held": "#e67e22",
    "stopped": "#7f8c8d",
    "high_degree": "#7f8c8d",
    "reached": "#2e86c1",
    "fold": "#bdc3c7",
}
LEGEND = [
    ("seed", "seed account"),
    ("held", "holds taint"),
    ("reached", "passed it on"),
    ("stopped", "stopped / exit"),
    ("fold", "folded accounts"),
]
NODE_SIZE = 700
ROW, COLUMN = 1.0, 3.2  # data units between rows and between hop columns


@dataclass(frozen=True, slots=True, kw_only=True)
class Caption:
    """What the foot of the chart says it is: case, when it was drawn, which ledger."""

    case_reference: str | None
    generated_at: datetime
    ledger_fingerprint: str | None

    def text(self) -> str:
        when = self.generated_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return (
            f"Case {self.case_reference or '(none)'} · generated {when} · "
            f"ledger fingerprint {self.ledger_fingerprint or '(unknown)'}"
        )


def draw(
    plan: ChartPlan,
    *,
    holders: Mapping[str, str],
    details: Mapping[str, str],
    title: str,
    caption: Caption,
    fmt: str,
    roles: Mapping[str, list[str]] | None = None,
) -> bytes:
    """The chart as SVG or PNG bytes. `holders` names each account, `details` gives the line
    under the name (institution; the IBAN is read off the key when absent), `roles` marks the
    accounts' roles with a letter badge explained in the legend."""
    rows = max((sum(1 for n in plan.nodes if n.hop == c.hop) for c in plan.columns), default=1)
    width = COLUMN * 1.15 * max(len(plan.columns), 2) + 1.5
    height = max(4.5, 1.3 * rows + 2.5)
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    # Inches kept below the drawing for the legend and the caption, above it for the title.
    bottom, top = 0.85 / height, 0.45 / height
    ax = figure.add_axes((0.01, bottom, 0.98, 1 - bottom - top))
    ax.set_axis_off()
    figure.suptitle(title, fontsize=11, x=0.02, y=1 - 0.1 / height, ha="left", va="top")
    figure.text(0.02, 0.12 / height, caption.text(), fontsize=7.5, color="#34495e", ha="left")
    if not plan.nodes:
        ax.text(0.5, 0.5, "nothing reached", ha="center")
    else:
        position = _positions(plan)
        _draw_columns(ax, plan.columns, position, plan.nodes)
        _draw_edges(ax, plan, position)
        _draw_nodes(ax, plan, position, holders, details)
        letters = _draw_roles(ax, plan, position, roles or {})
        _legend(ax, letters)
        ax.set_xlim(-0.5 * COLUMN, COLUMN * (len(plan.columns) - 0.5))
        ax.set_ylim(-ROW * (rows - 0.2), ROW * 1.2)
    buffer = io.BytesIO()
    # Same trace, same SVG: stable element ids, no creation date; text written as text.
    with matplotlib.rc_context({"svg.hashsalt": "moneytrail", "svg.fonttype": "none"}):
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _positions(plan: ChartPlan) -> dict[str, tuple[float, float]]:
    column_of = {c.hop: i for i, c in enumerate(plan.columns)}
    position: dict[str, tuple[float, float]] = {}
    filled: dict[int, int] = {}
    for node in plan.nodes:
        row = filled.get(node.hop, 0)
        filled[node.hop] = row + 1
        position[node.key] = (COLUMN * column_of[node.hop], -ROW * row)
    return position


def _draw_columns(
    ax: Any,
    columns: tuple[ChartColumn, ...],
    position: dict[str, tuple[float, float]],
    nodes: tuple[ChartNode, ...],
) -> None:
    """Each column's head: its hop, how many accounts it holds and when they were reached."""
    top = ROW * 0.75
    for i, column in enumerate(columns):
        if not any(n.hop == column.hop for n in nodes):
            continue
        name = "seeds" if column.hop == 0 else f"hop {column.hop}"
        count = f"{column.accounts} account" + ("" if column.accounts == 1 else "s")
        ax.text(
            COLUMN * i,
            top,
            f"{name} · {count}\n{_dates(column.first, column.last)}",
            ha="center",
            va="bottom",
            fontsize=8,
            fontweight="bold",
            color="#2c3e50",
        )


def _dates(first: datetime | None, last: datetime | None) -> str:
    if first is None or last is None:
        return ""
    a, b = first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d")
    return a if a == b else f"{a} \N{EN DASH} {b}"


def _amounts(verb: str, amounts: Mapping[str, Any]) -> list[str]:
    return [f"{verb} {money(v, c)} {c}" for c, v in amounts.items()]


def _iban(key: str) -> str | None:
    return key.removeprefix("iban:") if key.startswith("iban:") else None


def _short(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _node_lines(
    node: ChartNode, holders: Mapping[str, str], details: Mapping[str, str], *, beside: bool
) -> str:
    """The label under a node; a fold says "more" when accounts are drawn `beside` it."""
    if node.folded:
        more = "more " if beside else ""
        lines = [f"{node.folded} {more}account" + ("" if node.folded == 1 else "s")]
        return "\n".join(lines + _amounts("received", node.received) + _amounts("holds", node.held))
    name = holders.get(node.key)
    lines = [_short(name or node.key, 30)]
    # The key under a name, unless the name already says it (`ext:` counterparties).
    detail = details.get(node.key) or _iban(node.key)
    if detail is None and name and name not in node.key:
        detail = node.key
    if detail:
        lines.append(_short(detail, 34))
    return "\n".join(lines + _amounts("holds", node.held))


def _draw_nodes(
    ax: Any,
    plan: ChartPlan,
    position: dict[str, tuple[float, float]],
    holders: Mapping[str, str],
    details: Mapping[str, str],
) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(n.key for n in plan.nodes)
    nx.draw_networkx_nodes(
        graph,
        position,
        ax=ax,
        nodelist=[n.key for n in plan.nodes],
        node_color=[COLOURS.get(n.kind, COLOURS["reached"]) for n in plan.nodes],
        node_size=NODE_SIZE,
        edgecolors="white",
        linewidths=1.5,
    )
    drawn = {n.hop for n in plan.nodes if not n.folded}
    # Under the node, clear of the arrowheads that come in from the left.
    for node in plan.nodes:
        x, y = position[node.key]
        ax.text(
            x,
            y - 0.2 * ROW,
            _node_lines(node, holders, details, beside=node.hop in drawn),
            ha="center",
            va="top",
            fontsize=7,
            linespacing=1.15,
            color="#1b2631",
        )


def _draw_edges(ax: Any, plan: ChartPlan, position: dict[str, tuple[float, float]]) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(n.key for n in plan.nodes)
    labels: dict[tuple[str, str], list[str]] = {}
    for edge in plan.edges:
        pair = (edge.source, edge.target)
        prior = graph.edges[pair]["weight"] if graph.has_edge(*pair) else 0.0
        graph.add_edge(*pair, weight=prior + float(edge.traced), empty=edge.traced == 0)
        labels.setdefault(pair, []).append(f"{money(edge.traced, edge.currency)} {edge.currency}")
    if not graph.number_of_edges():
        return
    weights = [w for *_, w in graph.edges(data="weight")]
    heaviest = max(weights) or 1.0
    nx.draw_networkx_edges(
        graph,
        position,
        ax=ax,
        width=[0.6 + 7.0 * (w / heaviest) ** 0.5 for w in weights],
        edge_color="#5d6d7e",
        alpha=0.5,
        style=["dashed" if e else "solid" for *_, e in graph.edges(data="empty")],
        arrows=True,
        arrowsize=12,
        node_size=NODE_SIZE,
        connectionstyle="arc3,rad=0.06",
    )
    # Labels sit just before the middle, towards the source: away from the arrowhead.
    nx.draw_networkx_edge_labels(
        graph,
        position,
        edge_labels={pair: "\n".join(text) for pair, text in labels.items()},
        ax=ax,
        font_size=6.5,
        label_pos=0.45,
        rotate=False,
        connectionstyle="arc3,rad=0.06",
        node_size=NODE_SIZE,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    )


def role_letters(roles: Mapping[str, list[str]]) -> dict[str, str]:
    """A letter per role name (its initial; a second letter where two roles share one)."""
    letters: dict[str, str] = {}
    for role in sorted({r for names in roles.values() for r in names}):
        letter = role[:1].upper()
        if letter in letters.values():
            letter = role[:2].capitalize()
        letters[role] = letter
    return letters


def _draw_roles(
    ax: Any,
    plan: ChartPlan,
    position: dict[str, tuple[float, float]],
    roles: Mapping[str, list[str]],
) -> dict[str, str]:
    shown = {n.key for n in plan.nodes if not n.folded}
    drawn = {key: names for key, names in roles.items() if key in shown and names}
    letters = role_letters(drawn)
    for key, names in sorted(drawn.items()):
        x, y = position[key]
        ax.text(
            x + 0.2 * ROW,
            y + 0.2 * ROW,
            " ".join(letters[r] for r in sorted(names)),
            ha="left",
            va="bottom",
            fontsize=6.5,
            fontweight="bold",
            color="#1b2631",
            bbox={"boxstyle": "round,pad=0.2", "fc": "#f9e79f", "ec": "#7d6608", "lw": 0.6},
        )
    return letters


def _legend(ax: Any, letters: Mapping[str, str]) -> None:
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, color=COLOURS[k], label=t)
        for k, t in LEGEND
    ]
    handles += [
        Line2D([], [], linestyle="", label=f"{letter}  {role.replace('_', '-')}")
        for role, letter in sorted(letters.items(), key=lambda item: item[1])
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.0, 0.0),
        ncols=len(handles),
        frameon=False,
        fontsize=7,
    )
