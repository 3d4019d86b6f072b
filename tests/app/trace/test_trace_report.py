"""The trace report (issue 17, part 2): read back as a user would, and its figures checked
against what the API answers for the same trace and for the other rules."""

import hashlib
import os
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import lxml.html
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.principal import Role
from app.trace.report import RULE_IN_LAW
from tests.app.casework import Api, criminal_case
from tests.factories import bearer, make_key

SEEDS = [{"transaction": t} for t in SEED_TRANSACTIONS]


@pytest.fixture
def demo(client: TestClient, session: Session) -> dict[str, Any]:
    admin = Api(client, bearer(make_key(session)))
    admin.post("/api/v1/demo", {})
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    case = lead.post("/api/v1/cases", criminal_case("BKA-2026-0417", title="Operation Nordlicht"))
    trace = lead.post("/api/v1/traces", {"seeds": SEEDS, "rule": "libr", "case_id": case["id"]})
    holdings = lead.get(f"/api/v1/traces/{trace['id']}/holdings")["items"]
    # The demo's own source document, as received: its digest must be in the report.
    sources = admin.get("/api/v1/sources")["items"]
    return {"lead": lead, "admin": admin, "trace": trace, "holdings": holdings, "sources": sources}


def held_under(api: Api, rule: str) -> dict[str, str]:
    other = api.post("/api/v1/traces", {"seeds": SEEDS, "rule": rule})
    rows = api.get(f"/api/v1/traces/{other['id']}/holdings", limit=200)["items"]
    return {r["account"]: r["held"] for r in rows}


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_report_reads_back_with_the_demo_figures(
    client: TestClient, demo: dict[str, Any]
) -> None:
    lead, trace = demo["lead"], demo["trace"]
    r = client.get(f"/api/v1/traces/{trace['id']}/report.pdf", headers=lead.key)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(r.content))
    pages = [p.extract_text() for p in reader.pages]
    assert len(pages) >= 3
    whole = "\n".join(pages)
    squeezed = flat(whole)
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert "BKA-2026-0417" in text  # title block on page 1, running title after
    assert "Operation Nordlicht" in pages[0]
    # The question and the rule in law.
    for seed in SEED_TRANSACTIONS:
        assert f"transaction {seed}" in whole
    assert "Roscoe" in whole
    assert "Hallett" in whole
    assert flat(RULE_IN_LAW["libr"]) in squeezed
    assert "Same-day policy ledger" in whole
    # The evidence: fingerprint, result digest, engine, source documents with their digests.
    assert trace["ledger_fingerprint"] in squeezed
    assert trace["result_sha256"] in squeezed
    result = client.get(f"/api/v1/traces/{trace['id']}/result.json", headers=lead.key).content
    assert hashlib.sha256(result).hexdigest() == trace["result_sha256"]
    assert trace["engine_version"] in whole
    (ledger,) = [s for s in demo["sources"] if s["filename"] == "transactions.csv"]
    assert ledger["sha256"] in squeezed
    assert ledger["received_at"].replace("Z", "") in whole.replace("+00:00", "")
    # The figures: traced in, held, exited, and each holding with its amount and holder.
    summary = trace["summary"]
    for figure in (summary["taint_in"], summary["held"], summary["exited"]):
        assert figure in whole
    assert demo["holdings"]
    for holding in demo["holdings"]:
        assert flat(holding["account"]) in squeezed
        assert holding["held"] in whole
        assert flat(holding["holder"]) in squeezed
    # The rules side by side: each row reads as the four rules' own traces hold there.
    comparison = squeezed[squeezed.index("6.Therulessidebyside") :]
    assert "FIFOLIFOLIBRHAIRCUT" in comparison
    held = {rule: held_under(lead, rule) for rule in ("fifo", "lifo", "libr", "haircut")}
    for holding in demo["holdings"][:5]:
        account = holding["account"]
        figures = "".join(held[r].get(account, "0.00") for r in ("fifo", "lifo", "libr", "haircut"))
        assert flat(account + holding["holder"]) + figures in comparison, account
    assert "Computedontheledgerthetraceranon" in squeezed


def test_the_first_page_renders(client: TestClient, demo: dict[str, Any]) -> None:
    trace = demo["trace"]
    r = client.get(f"/api/v1/traces/{trace['id']}/report.pdf", headers=demo["lead"].key)
    document = pypdfium2.PdfDocument(r.content)
    try:
        image = document[0].render(scale=1).to_pil()
        buffer = BytesIO()
        image.save(buffer, format="PNG")
    finally:
        document.close()
    if out := os.environ.get("MONEYTRAIL_REPORT_PNG"):  # to look at it
        Path(out).write_bytes(buffer.getvalue())
    assert buffer.getvalue().startswith(b"\x89PNG")
    width, height = image.size
    assert (round(width / 10), round(height / 10)) == (60, 84)  # A4, 595 x 842 points
    grey = image.convert("L")
    dark = sum(grey.histogram()[:128])
    # Text and table rules, not a blank page: a few percent of the page is ink.
    assert 0.005 < dark / (width * height) < 0.5


def test_the_html_report_holds_the_same_figures(client: TestClient, demo: dict[str, Any]) -> None:
    lead, trace = demo["lead"], demo["trace"]
    r = client.get(f"/api/v1/traces/{trace['id']}/report.html", headers=lead.key)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = lxml.html.fromstring(r.text)
    assert "BKA-2026-0417" in page.findtext(".//title")
    tables = page.findall(".//table")
    holdings = next(
        t
        for t in tables
        if [th.text for th in t.findall(".//th")][:3]
        == [
            "Account",
            "Holder",
            "Institution",
        ]
    )
    rows = [
        [td.text_content() for td in tr.findall("td")] for tr in holdings.findall(".//tbody/tr")
    ]
    assert [(row[0], row[1], row[4]) for row in rows] == [
        (h["account"], h["holder"], h["held"]) for h in demo["holdings"]
    ]
    text = page.text_content()
    assert trace["result_sha256"] in text
    assert trace["ledger_fingerprint"] in text
    # The chart is inline SVG, its labels text a reader can search: the holders, what they
    # hold written as the holdings table writes it, and a caption naming case and ledger.
    (svg,) = page.findall(".//svg")
    assert svg.findall(".//path")
    lines = [t.text_content() for t in svg.iter("text")]
    for holding in demo["holdings"]:
        if holding["holder"]:
            assert holding["holder"] in lines
        assert f"holds {holding['held']} EUR" in lines
    assert lines[-1].startswith("Case BKA-2026-0417 · generated ")
    assert lines[-1].endswith(f"ledger fingerprint {trace['ledger_fingerprint']}")


def test_a_report_is_the_case_s_to_see(
    client: TestClient, session: Session, demo: dict[str, Any]
) -> None:
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    for suffix in ("report.pdf", "report.html"):
        r = client.get(f"/api/v1/traces/{demo['trace']['id']}/{suffix}", headers=outsider)
        assert (r.status_code, r.json()["code"]) == (404, "trace_not_found")
        assert r.headers["content-type"] == "application/problem+json"


def test_a_backward_reach_trace_reports_without_amounts_or_rules(
    client: TestClient, demo: dict[str, Any]
) -> None:
    lead = demo["lead"]
    seed = {"account": demo["holdings"][0]["account"], "currency": "EUR"}
    back = lead.post("/api/v1/traces", {"seeds": [seed], "rule": "reach", "direction": "backward"})
    r = client.get(f"/api/v1/traces/{back['id']}/report.pdf", headers=lead.key)
    assert r.status_code == 200, r.text
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(r.content)).pages)
    assert "Direction backward" in text
    assert "The rules attribute value forward only." in text
    assert "No account holds traced value." in text
    assert "no case" in text


def test_the_rules_side_by_side_are_traced_once_per_trace_and_ledger(
    client: TestClient, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.trace import report

    engine, rules = report.trace, []

    def counted(ledger: Any, params: Any, **kwargs: Any) -> Any:
        rules.append(str(params.rule))
        return engine(ledger, params, **kwargs)

    monkeypatch.setattr(report, "trace", counted)
    url = f"/api/v1/traces/{demo['trace']['id']}/report.html"
    first = client.get(url, headers=demo["lead"].key)
    assert first.status_code == 200, first.text
    # The trace's own rule (libr) is its stored result; the three others are traced.
    assert sorted(rules) == sorted(r for r in report.COMPARED_RULES if r != "libr")
    second = client.get(url, headers=demo["lead"].key)
    assert second.status_code == 200, second.text
    assert len(rules) == 3
    tables = [
        [t.text_content() for t in lxml.html.fromstring(r.text).findall(".//table")]
        for r in (first, second)
    ]
    assert tables[0] == tables[1]
    assert any("fifo" in t.lower() and "haircut" in t.lower() for t in tables[0])
