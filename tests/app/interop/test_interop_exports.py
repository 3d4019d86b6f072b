"""Trace and ledger exports (GraphML, GEXF, i2 CSV, FtM) and the FtM round trip."""

import io
import json
from decimal import Decimal
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from fastapi.testclient import TestClient

from app import migrate
from app.apikey import service as apikey_service
from app.db import make_engine, make_sessionmaker
from app.demo.service import SEED_TRANSACTIONS
from app.interop import service as interop_service
from app.interop.service import FTM_INSTALLED
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.app.casework import criminal_case
from tests.conftest import fresh_database
from tests.factories import bearer, make_key

if FTM_INSTALLED:
    from followthemoney import model

needs_ftm = pytest.mark.skipif(not FTM_INSTALLED, reason="the ftm extra is not installed")


@pytest.fixture
def key(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


@pytest.fixture
def trace_id(client: TestClient, key: dict[str, str]) -> str:
    body = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "fifo"}
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def flows(client, key, trace_id) -> pl.DataFrame:
    r = client.get(f"/api/v1/traces/{trace_id}/flows.csv", headers=key)
    return pl.read_csv(io.StringIO(r.text), infer_schema=False)


def trail(client, key, trace_id) -> set[str]:
    r = client.get(f"/api/v1/traces/{trace_id}/accounts.csv", headers=key)
    accounts = pl.read_csv(io.StringIO(r.text), infer_schema=False)
    f = flows(client, key, trace_id)
    return {*accounts["account"], *f["from_account"], *f["to_account"]}


def cents(value: str) -> int:
    return int(Decimal(value) * 100)


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_graph_exports_load_in_networkx_with_the_trace_figures(client, key, trace_id, fmt):
    r = client.get(f"/api/v1/traces/{trace_id}/export/{fmt}", headers=key)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    read = nx.read_graphml if fmt == "graphml" else nx.read_gexf
    graph = read(io.BytesIO(r.content))
    expected = flows(client, key, trace_id)
    assert set(graph.nodes) == trail(client, key, trace_id)
    assert graph.number_of_nodes() == 12  # the 11 accounts reached and the courier's cash
    assert graph.number_of_edges() == expected.height == 15
    edges = {d.get("id", k): (u, v, d) for u, v, k, d in graph.edges(keys=True, data=True)}
    for row in expected.iter_rows(named=True):
        u, v, data = edges[row["external_id"]]
        assert (u, v) == (row["from_account"], row["to_account"])
        assert cents(data["amount"]) == cents(row["amount"])
        assert int(data["amount_minor"]) == cents(row["amount"])
        assert cents(data["traced"]) == cents(row["traced"])
        assert int(data["hop"]) == int(row["hop"])
    traced = sum(int(d["traced_minor"]) for _, _, d in graph.edges(data=True))
    assert traced == sum(cents(t) for t in expected["traced"])
    nordlicht = graph.nodes["iban:DE75512108001245126199"]
    assert nordlicht["label"] == "Nordlicht Handels GmbH"
    assert nordlicht["held"] == "EUR 500.00"  # the hand-worked FIFO figure


def test_i2_csv_pair_matches_the_trace(client, key, trace_id):
    entities = client.get(f"/api/v1/traces/{trace_id}/export/i2-entities.csv", headers=key)
    links = client.get(f"/api/v1/traces/{trace_id}/export/i2-links.csv", headers=key)
    assert entities.status_code == links.status_code == 200
    e = pl.read_csv(io.StringIO(entities.text), infer_schema=False)
    link = pl.read_csv(io.StringIO(links.text), infer_schema=False)
    assert set(e["entity_id"]) == trail(client, key, trace_id)
    assert set(link["from_entity_id"]) | set(link["to_entity_id"]) <= set(e["entity_id"])
    expected = flows(client, key, trace_id).sort("external_id")
    link = link.sort("link_id")
    assert link["link_id"].to_list() == expected["external_id"].to_list()
    assert [cents(a) for a in link["amount"]] == [cents(a) for a in expected["amount"]]
    first = link.filter(pl.col("link_id") == "DEMO-D01").row(0, named=True)
    assert (first["date"], first["time"], first["link_type"]) == (
        "2026-01-05",
        "09:10:00",
        "Transaction",
    )


def valid_ftm_lines(text: str) -> list[dict]:
    """Each line is a clean FtM entity: known schema, cleaned values unchanged, required
    properties present, references resolved inside the stream."""
    lines = [json.loads(line) for line in text.splitlines()]
    ids = {d["id"] for d in lines}
    assert len(ids) == len(lines)
    for data in lines:
        proxy = model.get_proxy(data, cleaned=False)
        assert model.get_proxy(data, cleaned=True).to_dict() == proxy.to_dict() == data
        assert all(proxy.get(p) for p in proxy.schema.required), data
        for prop in proxy.iterprops():
            if prop.type.name == "entity":
                assert set(proxy.get(prop)) <= ids, (data, prop.name)
    return lines


@needs_ftm
def test_trace_ftm_export_is_valid_with_stable_ids(client, key, trace_id):
    r = client.get(f"/api/v1/traces/{trace_id}/export/ftm", headers=key)
    assert r.status_code == 200
    lines = valid_ftm_lines(r.text)
    payments = [d for d in lines if d["schema"] == "Payment"]
    assert sorted(p["properties"]["recordId"][0] for p in payments) == sorted(
        flows(client, key, trace_id)["external_id"]
    )
    d01 = next(p for p in payments if p["properties"]["recordId"] == ["DEMO-D01"])
    assert d01["properties"]["amount"] == ["9500.00"]
    assert d01["properties"]["date"] == ["2026-01-05T09:10:00"]
    assert {d["schema"] for d in lines} >= {
        "Person",
        "Company",
        "BankAccount",
        "Ownership",
        "Payment",
    }
    again = client.get(f"/api/v1/traces/{trace_id}/export/ftm", headers=key)
    assert again.text == r.text  # same ids, same order


def read_ledger(client, key, keys, external_ids):
    accounts = {}
    for k in sorted(keys):
        a = client.get(f"/api/v1/accounts/{k}", headers=key).json()
        holders = sorted((h["party_key"], h["name"], h["kind"], h["role"]) for h in a["holders"])
        accounts[k] = (
            a["kind"],
            a["name"],
            a["iban"],
            a["bic"],
            a["number"],
            a["institution"],
            a["currency"],
            holders,
        )
    payments = {}
    for ext in sorted(external_ids):
        t = client.get(f"/api/v1/transactions/{ext}", headers=key).json()
        payments[ext] = tuple(
            t[f]
            for f in (
                "from_account",
                "to_account",
                "amount",
                "currency",
                "value_time",
                "sequence",
                "narrative",
            )
        )
    return accounts, payments


@needs_ftm
def test_an_ftm_export_reimports_into_an_empty_database(client, key, trace_id, tmp_path: Path):
    keys = sorted(trail(client, key, trace_id))
    query = "&".join(f"account={k}" for k in keys)
    export = client.get(f"/api/v1/exports/ftm?{query}", headers=key)
    assert export.status_code == 200, export.text
    lines = valid_ftm_lines(export.text)
    external_ids = [d["properties"]["recordId"][0] for d in lines if d["schema"] == "Payment"]
    party_keys = sorted(
        kw[len("moneytrail-key:") :]
        for d in lines
        if d["schema"] in ("Person", "Company")
        for kw in d["properties"]["keywords"]
    )
    before = read_ledger(client, key, keys, external_ids)

    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as s:
            _, secret = apikey_service.create_key(s, name="t", role=Role.ADMIN, created_by=None)
        other = bearer(secret)
        settings = Settings(
            database_url=url,
            data_dir=tmp_path,
            bootstrap_admin_key=False,
            deadline_sweep_enabled=False,
            trace_warm_ledger=False,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as fresh:
            files = {"file": ("n.ftm.json", export.content, "application/x-ndjson")}
            r = fresh.post(
                "/api/v1/imports/ftm", headers=other, files=files, data={"reference": "ROUND-TRIP"}
            )
            assert r.status_code == 201, r.text
            assert (r.json()["rows"], r.json()["inserted"]) == (len(external_ids),) * 2
            after = read_ledger(fresh, other, keys, external_ids)
            replay = fresh.post(
                "/api/v1/imports/ftm", headers=other, files=files, data={"reference": "ROUND-TRIP"}
            )
            assert replay.status_code == 200
            assert replay.json()["already_present"] == len(external_ids)
            assert replay.json()["source_document_id"] == r.json()["source_document_id"]
            reexport = fresh.get(f"/api/v1/exports/ftm?{query}", headers=other)
        engine.dispose()
    assert after == before
    assert len(party_keys) >= 5
    assert reexport.text == export.text  # the same entities, ids and all


@needs_ftm
def test_a_broken_ftm_stream_is_refused_by_line(client, key, session):
    good = json.dumps(
        {"id": "acc-1", "schema": "BankAccount", "properties": {"iban": ["DE89370400440532013000"]}}
    )
    stream = "\n".join(
        [
            good,
            "{not json",
            json.dumps({"id": "x", "schema": "Spaceship", "properties": {}}),
            json.dumps({"id": "p", "schema": "Payment", "properties": {"amount": ["5"]}}),
        ]
    )
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("x.json", stream.encode(), NDJSON)},
        data={"reference": "X"},
    )
    assert r.status_code == 422
    assert [e["line"] for e in r.json()["errors"]] == [2, 3, 4]


NDJSON = "application/x-ndjson"


@needs_ftm
def test_foreign_ftm_payments_import_without_moneytrail_keys(client, key):
    entities = [
        {"id": "p1", "schema": "Person", "properties": {"name": ["Mira Novak"], "country": ["at"]}},
        {"id": "c1", "schema": "Company", "properties": {"name": ["Quick Remit GmbH"]}},
        {"id": "a1", "schema": "BankAccount", "properties": {"iban": ["AT611904300234573201"]}},
        {"id": "o1", "schema": "Ownership", "properties": {"owner": ["p1"], "asset": ["a1"]}},
        {
            "id": "pay1",
            "schema": "Payment",
            "properties": {
                "payer": ["p1"],
                "payerAccount": ["a1"],
                "beneficiary": ["c1"],
                "amount": ["120.50"],
                "currency": ["EUR"],
                "date": ["2026-05-24"],
                "transactionNumber": ["TXN-9"],
            },
        },
    ]
    stream = "\n".join(json.dumps(e) for e in entities).encode()
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("x.json", stream, NDJSON)},
        data={"reference": "ALEPH-1"},
    )
    assert r.status_code == 201, r.text
    t = client.get("/api/v1/transactions/TXN-9", headers=key).json()
    assert (t["from_account"], t["to_account"]) == (
        "iban:AT611904300234573201",
        "ext:Quick Remit GmbH",
    )
    assert (t["amount"], t["value_time"]) == ("120.50", "2026-05-24T00:00:00Z")
    a = client.get("/api/v1/accounts/iban:AT611904300234573201", headers=key).json()
    assert [(h["party_key"], h["name"], h["role"]) for h in a["holders"]] == [
        ("ftm:p1", "Mira Novak", "holder")
    ]


@needs_ftm
def test_a_case_exports_its_subjects_and_their_neighbourhood(client, key):
    case = client.post("/api/v1/cases", headers=key, json=criminal_case("BKA-FTM-1")).json()
    nordlicht = "iban:DE75512108001245126199"
    for subject in (
        {"account": nordlicht, "role": "suspect"},
        {"party": "demo:person:viktor-hale", "role": "beneficial_owner"},
    ):
        r = client.post(f"/api/v1/cases/{case['id']}/subjects", headers=key, json=subject)
        assert r.status_code == 201, r.text
    r = client.get(f"/api/v1/cases/{case['id']}/export/ftm", headers=key)
    assert r.status_code == 200, r.text
    lines = valid_ftm_lines(r.text)
    names = {d["properties"]["name"][0] for d in lines if d["schema"] in ("Person", "Company")}
    assert {"Viktor Hale", "Nordlicht Handels GmbH"} <= names
    own = client.get(f"/api/v1/accounts/{nordlicht}/transactions?limit=1000", headers=key).json()
    payments = {d["properties"]["recordId"][0] for d in lines if d["schema"] == "Payment"}
    assert payments == {t["external_id"] for t in own["items"]}
    assert client.get("/api/v1/cases/999999/export/ftm", headers=key).status_code == 404


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_an_account_neighbourhood_exports_as_a_graph(client, key, fmt):
    nordlicht = "iban:DE75512108001245126199"
    r = client.get(f"/api/v1/exports/{fmt}?account={nordlicht}", headers=key)
    assert r.status_code == 200, r.text
    graph = (nx.read_graphml if fmt == "graphml" else nx.read_gexf)(io.BytesIO(r.content))
    own = client.get(f"/api/v1/accounts/{nordlicht}/transactions?limit=1000", headers=key).json()
    items = own["items"]
    assert graph.number_of_edges() == len(items)
    assert set(graph.nodes) == {t["from_account"] for t in items} | {t["to_account"] for t in items}
    edges = {d.get("id", k): d for _, _, k, d in graph.edges(keys=True, data=True)}
    for t in items:
        assert edges[t["external_id"]]["amount"] == t["amount"]
        assert int(edges[t["external_id"]]["amount_minor"]) == cents(t["amount"])
    assert graph.nodes[nordlicht]["label"] == "Nordlicht Handels GmbH"


@needs_ftm
def test_crypto_wallets_export_as_cryptowallet_and_come_back(client, session, tmp_path):
    key = bearer(make_key(session))
    btc = "btc:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    accounts = {
        "source": {"kind": "exchange_response", "reference": "EXCH-1"},
        "parties": [{"key": "person:mule", "kind": "person", "name": "Max Mule", "country": "DE"}],
        "accounts": [{"key": btc, "holders": [{"party": "person:mule"}]}],
    }
    assert client.post("/api/v1/accounts/batch", headers=key, json=accounts).status_code == 201
    batch = {
        "source": {"kind": "exchange_response", "reference": "EXCH-1"},
        "transactions": [
            {
                "external_id": "BTC-1",
                "from_account": btc,
                "to_account": "btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                "amount": "0.12345678",
                "currency": "BTC",
                "value_time": "2026-03-01T12:00:07Z",
            }
        ],
    }
    assert client.post("/api/v1/transactions/batch", headers=key, json=batch).status_code == 201
    export = client.get(f"/api/v1/exports/ftm?account={btc}", headers=key)
    lines = valid_ftm_lines(export.text)
    wallets = [d for d in lines if d["schema"] == "CryptoWallet"]
    assert len(wallets) == 2
    mine = next(w for w in wallets if w["properties"].get("holder"))
    assert mine["properties"]["publicKey"] == ["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]
    assert mine["properties"]["currencySymbol"] == ["BTC"]
    (payment,) = [d for d in lines if d["schema"] == "Payment"]
    assert payment["properties"]["amount"] == ["0.12345678"]
    assert payment["properties"]["date"] == ["2026-03-01T12:00:07"]
    # Into a fresh ledger through the same import: the keys come back from the stream.
    stripped = "\n".join(
        json.dumps(
            {
                **d,
                "properties": {k: v for k, v in d["properties"].items() if k != "keywords"},
            }
        )
        for d in lines
    )
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("w.json", stripped.encode(), NDJSON)},
        data={"reference": "NO-KEYWORDS"},
    )
    # Wallet keys derived from address and symbol match the stored wallets; the person, known
    # to this stream only by its FtM id, comes in as a party of its own holding the wallet.
    assert r.status_code == 201, r.text
    assert (r.json()["inserted"], r.json()["already_present"]) == (0, 1)
    assert r.json()["accounts_created"] == 0
    wallet = client.get(f"/api/v1/accounts/{btc}", headers=key).json()
    assert sorted(h["party_key"].split(":")[0] for h in wallet["holders"]) == ["ftm", "person"]


def test_an_account_neighbourhood_exports_as_i2_csvs(client, key):
    nordlicht = "iban:DE75512108001245126199"
    q = f"account={nordlicht}"
    entities = client.get(f"/api/v1/exports/i2-entities.csv?{q}", headers=key)
    links = client.get(f"/api/v1/exports/i2-links.csv?{q}", headers=key)
    assert entities.status_code == links.status_code == 200
    e = pl.read_csv(io.StringIO(entities.text), infer_schema=False)
    link = pl.read_csv(io.StringIO(links.text), infer_schema=False)
    own = client.get(f"/api/v1/accounts/{nordlicht}/transactions?limit=1000", headers=key).json()
    assert sorted(link["link_id"]) == sorted(t["external_id"] for t in own["items"])
    assert set(link["from_entity_id"]) | set(link["to_entity_id"]) == set(e["entity_id"])
    amounts = dict(zip(link["link_id"], link["amount"], strict=True))
    assert all(amounts[t["external_id"]] == t["amount"] for t in own["items"])


def test_an_ftm_stream_over_the_upload_limit_is_refused(client, session, settings):
    key = bearer(make_key(session))
    client.app.state.settings = settings.model_copy(update={"upload_max_bytes": 100})
    line = json.dumps({"id": "a", "schema": "BankAccount", "properties": {"iban": ["X"]}})
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("big.json", ((line + "\n") * 10).encode(), NDJSON)},
        data={"reference": "BIG"},
    )
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")


def test_without_the_ftm_extra_the_ftm_routes_answer_501_and_store_nothing(
    client, key, trace_id, monkeypatch
):
    monkeypatch.setattr(interop_service, "FTM_INSTALLED", False)
    account = sorted(trail(client, key, trace_id))[0]
    for url in (
        f"/api/v1/traces/{trace_id}/export/ftm",
        f"/api/v1/exports/ftm?account={account}",
    ):
        r = client.get(url, headers=key)
        assert (r.status_code, r.json()["code"]) == (501, "ftm_unavailable"), url
        assert "moneytrail[ftm]" in r.json()["detail"]
    line = {"id": "a1", "schema": "BankAccount", "properties": {"iban": ["AT611904300234573201"]}}
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("x.json", json.dumps(line).encode(), NDJSON)},
        data={"reference": "NO-FTM"},
    )
    assert (r.status_code, r.json()["code"]) == (501, "ftm_unavailable")
    assert client.get("/api/v1/accounts/iban:AT611904300234573201", headers=key).status_code == 404
    # The other exports need nothing optional.
    assert client.get(f"/api/v1/exports/graphml?account={account}", headers=key).status_code == 200
