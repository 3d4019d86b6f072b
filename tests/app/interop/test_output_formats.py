"""One way to write a number and a time: the same trace's amount and time in every output."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import networkx as nx
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.interop.service import FTM_INSTALLED
from app.money import decimal_text, format_minor, from_minor
from tests.factories import bearer, make_key
from tracing import text_columns

NORDLICHT = "iban:DE75512108001245126199"
# The demo's first deposit and the FIFO figures of the README's walk-through.
FLOW, FLOW_AMOUNT, FLOW_TIME = "DEMO-D01", "9500.00", "2026-01-05T09:10:00Z"
RECEIVED, REACHED_AT = "24900.00", "2026-01-10T10:00:00Z"


@pytest.fixture
def trace_id(client: TestClient, session: Session) -> tuple[str, dict[str, str]]:
    key = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=key).status_code == 201
    body = {
        "seeds": [{"transaction": t} for t in SEED_TRANSACTIONS],
        "rule": "fifo",
        "stop_at": ["iban:MT84MALT011000012345MTLCAST001S"],
    }
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()["id"], key


def _get(client: TestClient, key: dict[str, str], trace_id: str, route: str) -> str:
    r = client.get(f"/api/v1/traces/{trace_id}/{route}", headers=key)
    assert r.status_code == 200, r.text
    return r.text


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_amount_and_a_time_read_the_same_in_every_output(client, trace_id):
    trace_id, key = trace_id
    # The JSON API is the reference.
    accounts = json.loads(_get(client, key, trace_id, "accounts?limit=100"))["items"]
    account = next(a for a in accounts if a["account"] == NORDLICHT)
    assert (account["received"], account["first_reached"]) == (RECEIVED, REACHED_AT)
    flows = json.loads(_get(client, key, trace_id, "flows?limit=100"))["items"]
    flow = next(f for f in flows if f["transaction"] == FLOW)
    assert (flow["amount"], flow["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)

    result = json.loads(_get(client, key, trace_id, "result.json"))
    stored = next(a for a in result["accounts"] if a["account"] == NORDLICHT)
    assert (stored["received"], stored["reached_at"]) == (RECEIVED, REACHED_AT)
    stored_flow = next(f for f in result["flows"] if f["external_id"] == FLOW)
    assert (stored_flow["amount"], stored_flow["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)

    row = next(
        r for r in _csv(_get(client, key, trace_id, "accounts.csv")) if r["account"] == NORDLICHT
    )
    assert (row["received"], row["reached_at"]) == (RECEIVED, REACHED_AT)
    row = next(
        r for r in _csv(_get(client, key, trace_id, "flows.csv")) if r["external_id"] == FLOW
    )
    assert (row["amount"], row["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)

    graph = nx.read_graphml(io.StringIO(_get(client, key, trace_id, "export/graphml")))
    (edge,) = [d for _, _, d in graph.edges(data=True) if d["id"] == FLOW]
    assert (edge["amount"], edge["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)
    assert graph.nodes[NORDLICHT]["received"] == f"EUR {RECEIVED}"
    assert graph.nodes[NORDLICHT]["reached_at"] == REACHED_AT
    gexf = nx.read_gexf(io.StringIO(_get(client, key, trace_id, "export/gexf")))
    (edge,) = [d for _, _, d in gexf.edges(data=True) if d.get("id") == FLOW]
    assert (edge["amount"], edge["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)

    links = _csv(_get(client, key, trace_id, "export/i2-links.csv"))
    link = next(r for r in links if r["link_id"] == FLOW)
    assert (link["amount"], link["value_time"]) == (FLOW_AMOUNT, FLOW_TIME)
    entities = _csv(_get(client, key, trace_id, "export/i2-entities.csv"))
    entity = next(r for r in entities if r["entity_id"] == NORDLICHT)
    assert (entity["received"], entity["reached_at"]) == (f"EUR {RECEIVED}", REACHED_AT)

    if FTM_INSTALLED:
        lines = [json.loads(x) for x in _get(client, key, trace_id, "export/ftm").splitlines()]
        payment = next(e for e in lines if e["properties"].get("recordId") == [FLOW])
        assert payment["properties"]["amount"] == [FLOW_AMOUNT]
        # FtM's date type holds no zone (followthemoney cleans one off): the same UTC instant
        # without its Z.
        assert payment["properties"]["date"] == [FLOW_TIME.removesuffix("Z")]


@pytest.mark.parametrize(
    ("minor", "decimals", "text"),
    [(2490000, 2, "24900.00"), (5, 8, "0.00000005"), (1500, 0, "1500"), (-150, 2, "-1.50")],
)
def test_format_minor_is_exact_in_the_currencys_decimals(minor, decimals, text):
    assert format_minor(minor, decimals) == text


def test_every_money_writer_agrees_with_format_minor():
    for currency, minor in (("EUR", 2490000), ("BTC", 5), ("JPY", 1500), ("KWD", 1)):
        text = from_minor(minor, currency)
        assert decimal_text(Decimal(text), currency) == text
        # The engine's frames at the ledger's widest scale, written per currency.
        frame = pl.DataFrame(
            {"currency": [currency], "amount": [Decimal(text)]},
            schema_overrides={"amount": pl.Decimal(38, 12)},
        )
        decimals = {"EUR": 2, "BTC": 8, "JPY": 0, "KWD": 3}
        assert text_columns(frame, decimals)["amount"].to_list() == [text]
    assert decimal_text(Decimal("0.001"), "EUR") == "0.001"  # finer than EUR: never rounded


def test_times_are_written_as_the_json_api_writes_them():
    times = [datetime(2026, 1, 10, 10, tzinfo=UTC), datetime(2026, 1, 10, 10, 0, 0, 5, tzinfo=UTC)]
    frame = pl.DataFrame({"t": times}, schema={"t": pl.Datetime("us", "UTC")})
    assert text_columns(frame, {})["t"].to_list() == [
        "2026-01-10T10:00:00Z",
        "2026-01-10T10:00:00.000005Z",
    ]
