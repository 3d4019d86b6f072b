"""Traces over HTTP on the demo case, against figures worked out by hand.

The demo (app/demo/transactions.csv): five cash deposits (46,500.00 EUR) into three mule
accounts, mixed with a salary, layered through Nordlicht (with real trade income before and
after) and Horizon, onward to Limassol (with a freight refund), the exchange and a flat.
`ext:` and `cash:` accounts and the exchange are stop accounts, so taint reaching them exits.

Worked by hand, per rule (EUR):

FIFO: M1 pays Nordlicht 2,100 clean (salary less groceries) + 9,500 + 3,400 taint = 12,900.
  Nordlicht's 25,000 to Limassol takes its oldest lots: 2,000 + 2,100 clean, 9,500 + 3,400 +
  8,000 taint = 20,900; Limassol's 12,000 to the exchange: 5,000 + 2,000 + 2,100 clean, 2,900
  taint. Held 40,100.00, exited 6,400.00 (3,500 car deposit, 2,900 exchange).
LIBR: own money spent first. Nordlicht before 01-15: balance 39,000, taint 24,900, so its
  25,000 carries 25,000 - 14,100 = 10,900; Limassol (30,000 / 10,900) sends the exchange
  12,000 - 19,100 < 0, i.e. nothing. Held 43,000.00, exited 3,500.00.
LIFO: M1's groceries take 300 of the newest (tainted) deposit; Nordlicht's 25,000 takes the
  10,000 trade income, then 12,000 + 3,000 taint = 15,000; Limassol sends the exchange 12,000
  taint (newest parts first). Held 30,700.00, exited 15,800.00 (300 + 3,500 + 12,000).
Haircut (pro rata, largest remainder per withdrawal): groceries 239.50; M1 -> Nordlicht
  13,254.10; Nordlicht -> Limassol 16,188.53; car 2,266.39; exchange 6,475.41; Horizon ->
  notary 13,151.52. Held 37,518.70, exited 8,981.30.
Poison (exposure): every outflow of a touched account counts; held is the tainted accounts'
  balances, 222,100.00 (the flat's whole price among them); exited 15,800.00.
"""

import hashlib
import re
import xml.etree.ElementTree as ET

import pytest
import resvg_py
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.trace import service as trace_service
from app.trace.caches import BoundedCache
from app.trace.models import TraceResultFrame, TraceRun
from app.trace.repository import TraceRepository
from app.trace.results import CANONICAL_JSON
from tests.factories import batch, bearer, make_key, tx

LIMASSOL = "iban:CY17002001280000001200527600"
NORDLICHT = "iban:DE75512108001245126199"
EXCHANGE = "iban:MT84MALT011000012345MTLCAST001S"
SELLER = "iban:DE12500105170648489890"
EXPECTED = {  # rule: (held, exited, held at Limassol, held at Nordlicht)
    "fifo": ("40100.00", "6400.00", "18000.00", "500.00"),
    "libr": ("43000.00", "3500.00", "10900.00", "10500.00"),
    "lifo": ("30700.00", "15800.00", "3000.00", "8500.00"),
    "haircut": ("37518.70", "8981.30", "9713.12", "6799.18"),
    "poison": ("222100.00", "15800.00", "18000.00", "10500.00"),
}


@pytest.fixture
def key(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def run(client: TestClient, key: dict[str, str], rule: str, **extra: object) -> dict:
    body = {
        "seeds": [{"transaction": t} for t in SEED_TRANSACTIONS],
        "rule": rule,
        "stop_at": [EXCHANGE],
        **extra,
    }
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


def open_case(client: TestClient, headers: dict[str, str], reference: str) -> int:
    case = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "reference": reference,
            "title": "Operation Nordlicht",
            "kind": "criminal_investigation",
            "jurisdiction": "DE",
            "predicate_offences": ["drug_trafficking"],
            "lead_agency": "LKA NRW",
        },
    )
    assert case.status_code == 201, case.text
    return int(case.json()["id"])


def holdings(client: TestClient, key: dict[str, str], trace_id: str) -> dict[str, str]:
    items = client.get(f"/api/v1/traces/{trace_id}/holdings", headers=key).json()["items"]
    return {i["account"]: i["held"] for i in items}


@pytest.mark.parametrize("rule", list(EXPECTED))
def test_every_rule_matches_the_hand_worked_figures(
    client: TestClient, key: dict[str, str], rule: str
) -> None:
    trace = run(client, key, rule)
    held, exited, at_limassol, at_nordlicht = EXPECTED[rule]
    summary = trace["summary"]
    assert trace["status"] == "done"
    assert (summary["currency"], summary["taint_in"], summary["held"], summary["exited"]) == (
        "EUR",
        "46500.00",
        held,
        exited,
    )
    assert summary["measure"] == ("exposure" if rule == "poison" else "value")
    assert summary["conserved"] is (None if rule == "poison" else True)
    assert summary["accounts_reached"] == 11
    where = holdings(client, key, trace["id"])
    assert (where[LIMASSOL], where[NORDLICHT]) == (at_limassol, at_nordlicht)
    amounts = list(where.values())
    assert amounts == sorted(amounts, key=float, reverse=True)


def test_fifo_and_libr_differ_where_clean_money_came_in_after_the_taint(
    client: TestClient, key: dict[str, str]
) -> None:
    fifo, libr = run(client, key, "fifo"), run(client, key, "libr")
    flows = {}
    for trace in (fifo, libr):
        items = client.get(
            f"/api/v1/traces/{trace['id']}/flows", headers=key, params={"limit": 100}
        ).json()["items"]
        flows[trace["summary"]["engine"]["rule"]] = {
            f["transaction"]: f["traced_amount"] for f in items
        }
    assert flows["fifo"]["DEMO-L05"] == "20900.00"
    assert flows["libr"]["DEMO-L05"] == "10900.00"
    assert flows["fifo"]["DEMO-X01"] == "2900.00"
    assert flows["libr"]["DEMO-X01"] == "0.00"
    exits = client.get(f"/api/v1/traces/{fifo['id']}/exits", headers=key).json()["items"]
    assert {(e["transaction"], e["traced_amount"], e["reason"]) for e in exits} == {
        ("DEMO-L06", "3500.00", "stopped_account"),
        ("DEMO-X01", "2900.00", "stopped_account"),
    }


def test_accounts_page_and_sort(client: TestClient, key: dict[str, str]) -> None:
    trace = run(client, key, "libr")
    url = f"/api/v1/traces/{trace['id']}/accounts"
    first = client.get(url, headers=key, params={"limit": 4, "sort": "held"}).json()
    rest = client.get(
        url, headers=key, params={"limit": 50, "cursor": first["next_cursor"], "sort": "held"}
    ).json()
    rows = first["items"] + rest["items"]
    assert len(rows) == 11
    assert rest["next_cursor"] is None
    assert rows[0]["account"] == SELLER
    assert rows[0]["held"] == "13000.00"
    nordlicht = next(r for r in rows if r["account"] == NORDLICHT)
    assert nordlicht["holder"] == "Nordlicht Handels GmbH"
    # Of the 14,400.00 it paid out, 3,500.00 (the car deposit) left the traced universe.
    assert tuple(nordlicht[f] for f in ("hop", "received", "passed_on", "exited", "held")) == (
        1,
        "24900.00",
        "10900.00",
        "3500.00",
        "10500.00",
    )
    bad = client.get(url, headers=key, params={"sort": "colour"})
    assert bad.status_code == 422


def test_explain_gives_the_strongest_paths_first(client: TestClient, key: dict[str, str]) -> None:
    trace = run(client, key, "libr")
    r = client.get(
        f"/api/v1/traces/{trace['id']}/explain", headers=key, params={"to": SELLER, "k": 2}
    )
    assert r.status_code == 200, r.text
    paths = r.json()
    assert [p["strength"] for p in paths] == ["9500.00", "6000.00"]
    assert [s["transaction"] for s in paths[0]["steps"]] == [
        "DEMO-D03",
        "DEMO-L03",
        "DEMO-P01",
        "DEMO-P03",
    ]
    missing = client.get(
        f"/api/v1/traces/{trace['id']}/explain",
        headers=key,
        params={"to": "iban:DE00123456781234567890"},
    )
    assert missing.status_code == 404


def test_a_trace_rerun_on_unchanged_data_is_byte_identical(
    client: TestClient, key: dict[str, str]
) -> None:
    first = run(client, key, "fifo")
    again = client.post(f"/api/v1/traces/{first['id']}/rerun", headers=key)
    assert again.status_code == 201, again.text
    diff = again.json()
    assert diff["ledger_changed"] is False
    assert (diff["accounts_added"], diff["amounts_changed"], diff["totals_changed"]) == ([], [], {})
    second = diff["trace"]
    assert second["rerun_of"] == first["id"]
    assert second["result_sha256"] == first["result_sha256"]
    a = client.get(f"/api/v1/traces/{first['id']}/result.json", headers=key).content
    b = client.get(f"/api/v1/traces/{second['id']}/result.json", headers=key).content
    assert a == b


@pytest.mark.parametrize("rule", ["reach", "libr", "fifo"])
def test_the_stored_result_is_the_canonical_json_and_the_frames_reproduce_it(
    client: TestClient,
    key: dict[str, str],
    session: Session,
    rule: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = run(client, key, rule)
    stored = client.get(f"/api/v1/traces/{created['id']}/result.json", headers=key).content
    assert hashlib.sha256(stored).hexdigest() == created["result_sha256"]
    # Rebuilt from the stored frames and the run's columns alone (no cached result, no re-run):
    # the same canonical bytes.
    trace_run = TraceRepository(session).get(created["id"])
    assert trace_run is not None
    assert trace_run.result is None
    runtime = client.app.state.trace_runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "results", BoundedCache(max_items=4, max_bytes=1 << 30))
    rebuilt = trace_service.finished_result(session, trace_run, runtime)
    assert rebuilt.to_json_bytes() == stored


def test_a_large_result_hashed_and_packed_on_the_helper_thread_is_stored_the_same(
    client: TestClient, key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = run(client, key, "fifo")
    monkeypatch.setattr(trace_service, "_OFFLOAD", 0)  # every result counts as large
    offloaded = run(client, key, "fifo")
    stored = client.get(f"/api/v1/traces/{offloaded['id']}/result.json", headers=key).content
    assert hashlib.sha256(stored).hexdigest() == offloaded["result_sha256"]
    assert offloaded["result_sha256"] == inline["result_sha256"]


def test_a_run_stored_with_its_json_as_text_is_served_as_stored(
    client: TestClient, key: dict[str, str], session: Session
) -> None:
    created = run(client, key, "libr")
    stored = client.get(f"/api/v1/traces/{created['id']}/result.json", headers=key).content
    session.execute(
        delete(TraceResultFrame).where(
            TraceResultFrame.trace_id == created["id"], TraceResultFrame.name == CANONICAL_JSON
        )
    )
    session.execute(
        update(TraceRun).where(TraceRun.id == created["id"]).values(result=stored.decode())
    )
    session.expire_all()
    again = client.get(f"/api/v1/traces/{created['id']}/result.json", headers=key)
    assert again.status_code == 200
    assert again.content == stored


def test_rerun_reports_what_new_transactions_changed(
    client: TestClient, key: dict[str, str]
) -> None:
    first = run(client, key, "libr")
    late = tx(
        "DEMO-LATE-1",
        LIMASSOL,
        "iban:DE21500500009876543210",
        "6000.00",
        value_time="2026-01-25T10:00:00Z",
    )
    assert (
        client.post("/api/v1/transactions/batch", json=batch(late), headers=key).status_code == 201
    )
    diff = client.post(f"/api/v1/traces/{first['id']}/rerun", headers=key).json()
    assert diff["ledger_changed"] is True
    assert diff["new_transactions"] == 1
    assert diff["accounts_added"] == ["iban:DE21500500009876543210"]
    changed = {
        (c["account"], c["field"]): (c["before"], c["after"]) for c in diff["amounts_changed"]
    }
    # LIBR: Limassol's 6,000 leaves its 19,100 of own money first: no taint moves.
    assert changed == {}
    # FIFO: Limassol's oldest remaining lot is tainted (6,600 of DEMO-D01's 9,500): 6,000 moves.
    fifo = run(client, key, "fifo")
    assert holdings(client, key, fifo["id"])[LIMASSOL] == "12000.00"


def svg_lines(svg: str) -> list[str]:
    """The SVG's text elements, one per line of a label (the chart writes text as text)."""
    tree = ET.fromstring(svg.encode())
    return ["".join(e.itertext()) for e in tree.iter("{http://www.w3.org/2000/svg}text")]


def test_the_chart_renders_and_names_the_accounts(client: TestClient, key: dict[str, str]) -> None:
    trace = run(client, key, "libr")
    svg = client.get(f"/api/v1/traces/{trace['id']}/graph.svg", headers=key)
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    lines = svg_lines(svg.text)
    # Holder, bank, taint held: exact and written as the report writes amounts.
    at = lines.index("Limassol Holdings Ltd")
    assert lines[at : at + 3] == ["Limassol Holdings Ltd", "Bank of Cyprus", "holds 10900.00 EUR"]
    assert {"Nordlicht Handels GmbH", "13000.00 EUR", "seeds · 3 accounts"} <= set(lines)
    assert lines[-1].startswith("Case (none) · generated ")
    assert lines[-1].endswith(f" · ledger fingerprint {trace['ledger_fingerprint']}")
    # resvg is a real SVG renderer; it wants the size in px where matplotlib writes pt.
    sized = re.sub(
        r'width="([0-9.]+)pt" height="([0-9.]+)pt"', r'width="\1" height="\2"', svg.text, count=1
    )
    png = bytes(resvg_py.svg_to_bytes(svg_string=sized))
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
    # Drawn again: the same chart, but for the time in its caption.
    again = client.get(f"/api/v1/traces/{trace['id']}/graph.svg", headers=key)
    assert svg_lines(again.text)[:-1] == lines[:-1]
    picture = client.get(f"/api/v1/traces/{trace['id']}/graph.png", headers=key)
    assert picture.content.startswith(b"\x89PNG")


def test_the_chart_draws_empty_edges_and_narrow_columns_on_request(
    client: TestClient, session: Session, key: dict[str, str]
) -> None:
    trace = run(client, key, "libr", case_id=open_case(client, key, "NORDLICHT-CHART"))
    url = f"/api/v1/traces/{trace['id']}/graph.svg"
    plain = svg_lines(client.get(url, headers=key).text)
    # Under LIBR Limassol paid the exchange its own money: that edge carried no taint.
    assert "0.00 EUR" not in plain
    assert "0.00 EUR" in svg_lines(client.get(f"{url}?empty_edges=true", headers=key).text)
    assert plain[-1].startswith("Case NORDLICHT-CHART · generated ")
    narrow = svg_lines(client.get(f"{url}?per_column=1", headers=key).text)
    # Seeds: Ben Kraus passed on the most and is drawn; Anna Berger and Chris de Vries fold
    # with what they received (18000.00 + 9800.00) and hold (5100.00 + 300.00).
    at = narrow.index("2 more accounts")
    assert narrow[at : at + 3] == [
        "2 more accounts",
        "received 27800.00 EUR",
        "holds 5400.00 EUR",
    ]
    assert "Ben Kraus" in narrow
    assert "Anna Berger" not in narrow
    bad = client.get(f"{url}?per_column=0", headers=key)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "per_column" in bad.text


def test_csv_exports(client: TestClient, key: dict[str, str]) -> None:
    trace = run(client, key, "libr")
    accounts = client.get(f"/api/v1/traces/{trace['id']}/accounts.csv", headers=key)
    assert accounts.headers["content-type"].startswith("text/csv")
    lines = accounts.text.strip().splitlines()
    assert lines[0].startswith("account,currency,hops")
    assert len(lines) == 12
    flows = client.get(f"/api/v1/traces/{trace['id']}/flows.csv", headers=key).text
    assert "DEMO-L05" in flows


def test_bad_trace_requests_are_problems(client: TestClient, key: dict[str, str]) -> None:
    unknown = client.post(
        "/api/v1/traces", headers=key, json={"seeds": [{"transaction": "NOPE"}], "rule": "fifo"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_seed"
    backward = client.post(
        "/api/v1/traces",
        headers=key,
        json={"seeds": [{"transaction": "DEMO-D01"}], "rule": "libr", "direction": "backward"},
    )
    assert backward.status_code == 422
    assert backward.json()["code"] == "invalid_trace_params"
    assert "LIBR measures one taint against clean money" in backward.json()["detail"]
    too_many = client.post(
        "/api/v1/traces",
        headers=key,
        json={"seeds": [{"transaction": "DEMO-D01"}], "max_hops": 500},
    )
    assert too_many.status_code == 422


def test_traces_are_private_to_their_creator(client: TestClient, session: Session, key) -> None:
    trace = run(client, key, "reach")
    other = bearer(make_key(session, role="analyst"))  # type: ignore[arg-type]
    assert client.get(f"/api/v1/traces/{trace['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/traces", headers=other).json()["items"] == []
    ingest = bearer(make_key(session, role="ingest"))  # type: ignore[arg-type]
    assert (
        client.post(
            "/api/v1/traces", headers=ingest, json={"seeds": [{"transaction": "X"}]}
        ).status_code
        == 403
    )


def test_a_case_trace_is_seen_by_the_case_and_no_one_else(
    client: TestClient, session: Session, key: dict[str, str]
) -> None:
    lead = bearer(make_key(session, role="investigator"))  # type: ignore[arg-type]
    case_id = open_case(client, lead, "NORDLICHT-1")
    body = {"seeds": [{"transaction": "DEMO-D01"}], "rule": "libr", "case_id": case_id}
    trace = client.post("/api/v1/traces", json=body, headers=lead).json()
    outsider = bearer(make_key(session, role="investigator"))  # type: ignore[arg-type]
    assert client.get(f"/api/v1/traces/{trace['id']}", headers=outsider).status_code == 404
    assert client.post("/api/v1/traces", json=body, headers=outsider).status_code == 404
    assert client.get(f"/api/v1/traces/{trace['id']}", headers=key).status_code == 200


def test_a_wide_trace_folds_its_tail_into_one_node(client: TestClient, key: dict[str, str]) -> None:
    hub = "iban:DE89370400440532013000"
    rows = [
        tx("W-0", "iban:DE44500105175407324931", hub, "8000.00", value_time="2026-03-01T09:00:00Z")
    ]
    rows += [
        tx(f"W-{i}", hub, f"acct:fan-{i:03d}", f"{i}.00", value_time="2026-03-02T09:00:00Z")
        for i in range(1, 81)
    ]
    assert (
        client.post("/api/v1/transactions/batch", json=batch(*rows), headers=key).status_code == 201
    )
    trace = client.post(
        "/api/v1/traces", headers=key, json={"seeds": [{"transaction": "W-0"}], "rule": "libr"}
    ).json()
    assert trace["summary"]["accounts_reached"] == 81
    svg = client.get(f"/api/v1/traces/{trace['id']}/graph.svg", headers=key).text
    lines = svg_lines(svg)
    # The seed and the 12 largest payees are drawn; the other 68 fold into one node with
    # their total, 1 + 2 + ... + 68 = 2346.00 EUR.
    at = lines.index("68 more accounts")
    assert lines[at : at + 3] == ["68 more accounts", "received 2346.00 EUR", "holds 2346.00 EUR"]
    assert "acct:fan-069" in lines
    assert "acct:fan-068" not in lines
