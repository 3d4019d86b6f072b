"""A trace as a graph for analysts' tools: GraphML, GEXF (Gephi) and i2 entity/link CSVs.

Nodes are accounts, edges are the transactions on the trail (several between the same two
accounts stay separate). Amounts travel as exact decimal strings and as integer minor units, so
that tools which want a number to size edges get one without a float ever holding money.
"""

import csv
import io
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import networkx as nx
import polars as pl

from app.money import decimal_text, decimals_of, to_minor
from tracing import TraceResult


@dataclass(frozen=True, slots=True)
class Payment:
    external_id: str
    from_account: str
    to_account: str
    amount: str
    currency: str
    value_time: datetime
    sequence: int | None = None
    narrative: str | None = None
    # The record's name (app.transaction.models.engine_id_of); a trace's flows carry it as
    # their external id. Two compartments may hold one external id, never one engine id.
    engine_id: str | None = None

    @property
    def name(self) -> str:
        return self.engine_id or self.external_id


AMOUNT_FIELDS = ("received", "passed_on", "exited", "held")


def money(value: Decimal | None, currency: str) -> tuple[str, int | None]:
    """The decimal string in the currency's decimals and its minor units (None if finer)."""
    if value is None:
        return "", None
    minor = None
    if decimals_of(currency) is not None:
        with suppress(ValueError):
            minor = to_minor(value, currency)
    return decimal_text(value, currency), minor


def _time(value: datetime | None) -> str:
    # As the JSON API writes it: UTC with Z, microseconds only when there are some.
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else ""


def node_rows(
    result: TraceResult, names: dict[str, str], roles: dict[str, list[str]] | None = None
) -> Iterator[dict[str, Any]]:
    """One row per account: the trace's figures per currency, joined as `EUR 100.00; ...`, and
    its roles in the network (`roles`, from `app.trace.roles.roles_by_account`) as
    `pass_through; collector`."""
    roles = roles or {}
    accounts = result.accounts.sort("account", "currency")
    seen: dict[str, dict[str, Any]] = {}
    for row in accounts.iter_rows(named=True):
        node = seen.setdefault(
            row["account"],
            {
                "id": row["account"],
                "label": names.get(row["account"], row["account"]),
                "role": row["role"],
                "roles": "; ".join(roles.get(row["account"], [])),
                "hops": row["hops"],
                "reached_at": _time(row["reached_at"]),
                "currencies": [],
                **{f: [] for f in AMOUNT_FIELDS},
            },
        )
        node["currencies"].append(row["currency"])
        for f in AMOUNT_FIELDS:
            if f in row and row[f] is not None:
                node[f].append(f"{row['currency']} {money(row[f], row['currency'])[0]}")
    flows = result.flows
    for key in sorted(
        {*flows["from_account"].to_list(), *flows["to_account"].to_list()} - set(seen)
    ):
        # A flow's far end outside the reached set (e.g. the seed deposit's cash source).
        seen[key] = {
            "id": key,
            "label": names.get(key, key),
            "role": "counterparty",
            "roles": "",
            "hops": -1,
            "reached_at": "",
            "currencies": [],
            **{f: [] for f in AMOUNT_FIELDS},
        }
    for node in seen.values():
        node["currencies"] = "; ".join(node["currencies"])
        for f in AMOUNT_FIELDS:
            node[f] = "; ".join(node[f])
        yield node


def edge_rows(result: TraceResult) -> Iterator[dict[str, Any]]:
    flows = result.flows.sort("hop", "value_time", "external_id")
    for row in flows.iter_rows(named=True):
        amount, amount_minor = money(row["amount"], row["currency"])
        traced, traced_minor = money(row["traced"], row["currency"])
        yield {
            "id": row["external_id"],
            "source": row["from_account"],
            "target": row["to_account"],
            "currency": row["currency"],
            "amount": amount,
            "amount_minor": amount_minor if amount_minor is not None else -1,
            "traced": traced,
            "traced_minor": traced_minor if traced_minor is not None else -1,
            "value_time": _time(row["value_time"]),
            "hop": row["hop"],
        }


def as_networkx(
    result: TraceResult, names: dict[str, str], roles: dict[str, list[str]] | None = None
) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph(name="moneytrail trace")
    for node in node_rows(result, names, roles):
        graph.add_node(node["id"], **{k: v for k, v in node.items() if k != "id"})
    for edge in edge_rows(result):
        graph.add_edge(
            edge["source"],
            edge["target"],
            key=edge["id"],
            **{k: v for k, v in edge.items() if k not in ("source", "target")},
        )
    return graph


def ledger_networkx(payments: list[Payment], names: dict[str, str]) -> nx.MultiDiGraph:
    """Accounts and the transactions between them, as the ledger holds them (no tracing)."""
    graph = nx.MultiDiGraph(name="moneytrail neighbourhood")
    for p in payments:
        for key in (p.from_account, p.to_account):
            if key not in graph:
                graph.add_node(key, label=names.get(key, key))
        graph.add_edge(
            p.from_account,
            p.to_account,
            key=p.name,
            id=p.name,
            currency=p.currency,
            amount=p.amount,
            amount_minor=money(Decimal(p.amount), p.currency)[1] or -1,
            value_time=_time(p.value_time),
        )
    return graph


def graphml(graph: nx.MultiDiGraph) -> bytes:
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer, encoding="utf-8", named_key_ids=True)
    return buffer.getvalue()


def gexf(graph: nx.MultiDiGraph) -> bytes:
    buffer = io.BytesIO()
    nx.write_gexf(graph, buffer, encoding="utf-8")
    return buffer.getvalue()


I2_ENTITY_COLUMNS = (
    "entity_id",
    "entity_type",
    "label",
    "role",
    "roles",
    "hops",
    "reached_at",
    "currencies",
    *AMOUNT_FIELDS,
)
I2_LINK_COLUMNS = (
    "link_id",
    "from_entity_id",
    "to_entity_id",
    "link_type",
    "currency",
    "amount",
    "amount_minor",
    "traced",
    "traced_minor",
    "date",
    "time",
    "value_time",
    "hop",
)


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def i2_entities(
    result: TraceResult, names: dict[str, str], roles: dict[str, list[str]] | None = None
) -> str:
    rows = [
        {"entity_id": n["id"], "entity_type": "Account", **{k: n[k] for k in I2_ENTITY_COLUMNS[2:]}}
        for n in node_rows(result, names, roles)
    ]
    return _csv(I2_ENTITY_COLUMNS, rows)


def i2_links(result: TraceResult) -> str:
    rows = []
    for e in edge_rows(result):
        date, _, clock = e["value_time"].partition("T")
        rows.append(
            {
                "link_id": e["id"],
                "from_entity_id": e["source"],
                "to_entity_id": e["target"],
                "link_type": "Transaction",
                "date": date,
                "time": clock.rstrip("Z")[:8],
                **{k: e[k] for k in I2_LINK_COLUMNS if k in e},
            }
        )
    return _csv(I2_LINK_COLUMNS, rows)


def trail_keys(result: TraceResult) -> list[str]:
    flows: pl.DataFrame = result.flows
    keys = {*result.accounts["account"].to_list(), *flows["from_account"].to_list()}
    return sorted(keys | set(flows["to_account"].to_list()))


def i2_of_ledger(graph: nx.MultiDiGraph) -> tuple[str, str]:
    """The i2 entity and link CSVs of a ledger neighbourhood (no trace figures: left empty)."""
    entities = [
        {"entity_id": node, "entity_type": "Account", "label": data.get("label", node)}
        for node, data in sorted(graph.nodes(data=True))
    ]
    links = []
    for source, target, data in graph.edges(data=True):
        date, _, clock = str(data["value_time"]).partition("T")
        links.append(
            {
                "link_id": data["id"],
                "from_entity_id": source,
                "to_entity_id": target,
                "link_type": "Transaction",
                "currency": data["currency"],
                "amount": data["amount"],
                "amount_minor": data["amount_minor"],
                "date": date,
                "time": clock.rstrip("Z")[:8],
                "value_time": data["value_time"],
            }
        )
    return _csv(I2_ENTITY_COLUMNS, entities), _csv(I2_LINK_COLUMNS, links)
