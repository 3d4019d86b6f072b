"""Yearly statistics of freezing and confiscation, as Directive (EU) 2024/1260 asks member
states to report them: how many orders, the value they concerned and the value recovered, by
predicate offence and legal state."""

import csv
import io
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.asset.machine import LegalStatus
from app.measure import service as measure_service
from app.money import from_minor

L = LegalStatus
# The states whose entry is an order to count (or, for REALISED and DISPOSED, a recovery).
COUNTED = (L.FROZEN, L.SEIZED, L.CONFISCATION_ORDERED, L.CONFISCATED, L.REALISED, L.DISPOSED)
NO_OFFENCE = "unspecified"


def _value(measure: Any, asset: Any) -> tuple[str, int] | None:
    """The order's own amount, else the asset's valuation (the value the order concerned)."""
    if measure.amount_minor is not None and measure.currency is not None:
        return measure.currency, measure.amount_minor
    if asset.value_minor is not None and asset.currency is not None:
        return asset.currency, asset.value_minor
    return None


def yearly_statistics(session: Session, year: int) -> dict[str, Any]:
    """Orders of the year by (predicate offence, legal state). A renewal or variation of a
    measure already in force (FROZEN → FROZEN) is not a new order; a case with several
    predicate offences counts under each (the per-state totals count it once)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    state_counts: dict[str, int] = defaultdict(int)
    state_sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    statuses = [str(s) for s in COUNTED]
    for measure, asset, offences in measure_service.orders_in_year(
        session, year, statuses=statuses
    ):
        if measure.from_status == measure.to_status:
            continue
        state = measure.to_status
        value = _value(measure, asset)
        state_counts[state] += 1
        if value is not None:
            state_sums[state][value[0]] += value[1]
        for offence in sorted(set(offences)) or [NO_OFFENCE]:
            counts[(offence, state)] += 1
            if value is not None:
                sums[(offence, state)][value[0]] += value[1]
    order = {s: i for i, s in enumerate(statuses)}

    def money(by_currency: dict[str, int]) -> list[dict[str, str]]:
        return [
            {"currency": c, "amount": from_minor(by_currency[c], c)} for c in sorted(by_currency)
        ]

    return {
        "year": year,
        "by_offence": [
            {
                "predicate_offence": offence,
                "legal_state": state,
                "orders": counts[(offence, state)],
                "values": money(sums[(offence, state)]),
            }
            for offence, state in sorted(counts, key=lambda k: (k[0], order[k[1]]))
        ],
        "by_state": [
            {"legal_state": s, "orders": state_counts[s], "values": money(state_sums[s])}
            for s in statuses
            if s in state_counts
        ],
    }


def statistics_csv(statistics: dict[str, Any]) -> str:
    """One row per offence, state and currency (a row with no currency: no value recorded)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["year", "predicate_offence", "legal_state", "orders", "currency", "value"])
    for row in statistics["by_offence"]:
        values = row["values"] or [{"currency": "", "amount": ""}]
        for v in values:
            writer.writerow(
                [
                    statistics["year"],
                    row["predicate_offence"],
                    row["legal_state"],
                    row["orders"],
                    v["currency"],
                    v["amount"],
                ]
            )
    return out.getvalue()
