"""Replay a corpus of hostile requests against a running moneytrail, on 127.0.0.1 only.

Starts its own server (a fresh SQLite file, or a fresh PostgreSQL database with --db
postgresql), loads a little honest evidence, then sends every request of the corpus: cursors
with foreign content, naive and impossible datetimes, NUL and lone surrogates in text and paths,
malformed files (Parquet lists and structs, CSVs with twin or a million columns), zip and XML
bombs, oversized and chunked bodies, twin Authorization headers, conflicting re-sends of known
evidence, and requests a role may not make. None of them should store anything.

It prints, per kind and in all: requests, server errors (5xx; target 0), whether anything was
stored (rows of every evidence table before and after; target 0), the peak growth of the
server's resident memory over the corpus (target under 100 MB), the audit entries missing (every
/api request must leave one; target 0) and what `GET /api/v1/audit/verify` says of the chain.

    .venv/bin/python -m benchmarks.hostile [--db postgresql] [--only KIND] [--list]
"""

import argparse
import base64
import contextlib
import io
import json
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from sqlalchemy import column, create_engine, func, inspect, select, table

from benchmarks import service

DE = "iban:DE89370400440532013000"
FR = "iban:FR1420041010050500013M02606"
MB = 1024 * 1024
RSS_TARGET = 100 * MB


@dataclass
class Probe:
    kind: str
    label: str
    method: str
    path: str
    role: str = "admin"
    # Most of the corpus must be refused; these few may also be answered (a clamp, a no-op).
    may_succeed: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    # Built lazily: some bodies are large, and only one should be in memory at a time.
    body: Callable[[], dict[str, Any]] | None = None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def raw_json(template: str, **values: str) -> dict[str, Any]:
    """A JSON body written by hand, so escapes such as a lone surrogate reach the server as
    sent (a Python client would refuse to encode them)."""
    body = template
    for name, value in values.items():
        body = body.replace("{" + name + "}", value)
    return {"content": body.encode(), "headers": {"Content-Type": "application/json"}}


def tx(external_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "from_account": DE,
        "to_account": FR,
        "amount": "10.00",
        "currency": "EUR",
        "value_time": "2026-01-05T10:00:00Z",
        **overrides,
    }


# Stored before the corpus; the conflict probes re-send it with one field changed.
HONEST = tx(
    "HB-1",
    narrative="honest",
    counterparty_name="Honest Ltd",
    counterparty_account="acct:honest",
    channel="wire",
    sequence=1,
)


def batch(*rows: dict[str, Any], reference: str = "HOSTILE-1") -> dict[str, Any]:
    return {"source": {"kind": "bank_statement", "reference": reference}, "transactions": rows}


def upload(name: str, content: bytes, mime: str = "text/csv") -> dict[str, Any]:
    return {
        "files": {"file": (name, content, mime)},
        "data": {"kind": "bank_statement", "reference": "HOSTILE-UP"},
    }


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


HEADER = "external_id,from_account,to_account,amount,currency,value_time"
ROW = f"U-1,{DE},{FR},10.00,EUR,2026-01-05T10:00:00Z"


def honest_frame(**columns: pl.Series) -> pl.DataFrame:
    base = {
        "external_id": pl.Series(["P-1"]),
        "from_account": pl.Series([DE]),
        "to_account": pl.Series([FR]),
        "amount": pl.Series(["10.00"]),
        "currency": pl.Series(["EUR"]),
        "value_time": pl.Series(["2026-01-05T10:00:00Z"]),
    }
    return pl.DataFrame({**base, **columns})


def zipped(members: Iterator[tuple[str, Iterator[bytes]]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, chunks in members:
            with zf.open(name, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
    return buffer.getvalue()


def repeated(piece: bytes, total: int, prefix: bytes = b"", suffix: bytes = b"") -> Iterator[bytes]:
    yield prefix
    block = piece * max(1, (1 << 20) // len(piece))
    for _ in range(total // len(block)):
        yield block
    yield suffix


def goaml(content: bytes, name: str = "report.zip", mime: str = "application/zip") -> dict:
    return {"files": {"file": (name, content, mime)}}


XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def corpus(case_id: int, trace_id: str) -> list[Probe]:
    probes: list[Probe] = []
    add = probes.append

    # 1. Cursors: well-formed base64 around foreign content, on every growing list.
    lists = [
        "/api/v1/traces",
        "/api/v1/sources",
        "/api/v1/audit",
        "/api/v1/cases",
        f"/api/v1/cases/{case_id}/events",
        f"/api/v1/cases/{case_id}/assets",
        f"/api/v1/accounts/{DE}/transactions",
        f"/api/v1/traces/{trace_id}/accounts",
        f"/api/v1/traces/{trace_id}/flows",
    ]
    cursors = [
        b64('["not-a-time","x"]'),
        b64('["abc"]'),
        b64("[]"),
        b64("{}"),
        b64("null"),
        b64('["2026-01-01T00:00:00Z", 1e400]'),
        b64('["2026-01-01T00:00:00", "x"]'),
        b64("\x00\x01"),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        "%%%",
    ]
    for path in lists:
        for i, cursor in enumerate(cursors):
            add(
                Probe("cursor", f"{path} #{i}", "GET", path, options={"params": {"cursor": cursor}})
            )

    # 2. Datetimes: naive, impossible, leap seconds, offsets beyond a day.
    naive = "2026-01-01T00:00:00"
    add(
        Probe(
            "datetime",
            "key expires_at naive",
            "POST",
            "/api/v1/keys",
            options={"json": {"name": "x", "role": "analyst", "expires_at": "2030-01-01T00:00:00"}},
        )
    )
    for param in ("since", "until"):
        for value in (naive, "0.5", "2026-13-01T00:00:00Z", "2026-01-01T23:59:60Z"):
            add(
                Probe(
                    "datetime",
                    f"audit {param}={value}",
                    "GET",
                    "/api/v1/audit",
                    options={"params": {param: value}},
                )
            )
    for param in ("start", "end"):
        for value in (naive, "2026-01-01T00:00:00+25:00", "2026-06-30T23:59:60Z"):
            add(
                Probe(
                    "datetime",
                    f"account {param}={value}",
                    "GET",
                    f"/api/v1/accounts/{DE}/transactions",
                    options={"params": {param: value}},
                )
            )
    for value in ("2026-06-30T23:59:60Z", "2026-01-05T10:00:00+25:00", "2026-01-05T24:00:01Z"):
        add(
            Probe(
                "datetime",
                f"batch value_time {value}",
                "POST",
                "/api/v1/transactions/batch",
                options={"json": batch(tx("DT-1", value_time=value))},
            )
        )
    for name in ("as_of", "end"):
        add(
            Probe(
                "datetime",
                f"trace {name} naive",
                "POST",
                "/api/v1/traces",
                options={"json": {"seeds": [{"transaction": "HB-1"}], name: naive}},
            )
        )
    add(
        Probe(
            "datetime",
            "trace seed at naive",
            "POST",
            "/api/v1/traces",
            options={
                "json": {
                    "seeds": [{"account": DE, "at": naive, "amount": "1.00", "currency": "EUR"}]
                }
            },
        )
    )

    # 3. Text: lone surrogates and NUL in every kind of text field.
    for bad_name, bad in (("surrogate", "\\ud800"), ("nul", "\\u0000")):
        row = (
            '{"source": {"kind": "bank_statement", "reference": "{ref}"}, "transactions": [{'
            '"external_id": "{eid}", "from_account": "{src}", "to_account": "' + FR + '", '
            '"amount": "1.00", "currency": "EUR", "value_time": "2026-01-05T10:00:00Z", '
            '"narrative": "{nar}", "counterparty_name": "{cpn}"}]}'
        )
        clean = {"ref": "R", "eid": "S-1", "src": DE, "nar": "n", "cpn": "c"}
        for slot in clean:
            values = {**clean, slot: f"x{bad}y"}
            add(
                Probe(
                    "text",
                    f"batch {slot} {bad_name}",
                    "POST",
                    "/api/v1/transactions/batch",
                    options=raw_json(row, **values),
                )
            )
        for template, label, path in (
            ('{"seeds": [{"transaction": "HB{x}1"}]}', "trace seed transaction", "/api/v1/traces"),
            (
                '{"seeds": [{"account": "acct:{x}", "at": "2026-01-01T00:00:00Z", '
                '"amount": "1.00", "currency": "EUR"}]}',
                "trace seed account",
                "/api/v1/traces",
            ),
            (
                '{"role": "suspect", "account": "acct:a{x}b"}',
                "case subject account",
                f"/api/v1/cases/{case_id}/subjects",
            ),
            (
                '{"role": "suspect", "party": "person:a{x}b"}',
                "case subject party",
                f"/api/v1/cases/{case_id}/subjects",
            ),
            (
                '{"reference": "C{x}1", "kind": "criminal_investigation", "title": "t", '
                '"jurisdiction": "DE", "lead_agency": "BKA"}',
                "case reference",
                "/api/v1/cases",
            ),
            ('{"name": "k{x}", "role": "analyst"}', "key name", "/api/v1/keys"),
            (
                '{"source": {"kind": "registry", "reference": "R"}, "parties": [{"key": '
                '"person:x{x}", "kind": "person", "name": "N"}]}',
                "party key",
                "/api/v1/accounts/batch",
            ),
        ):
            add(
                Probe(
                    "text", f"{label} {bad_name}", "POST", path, options=raw_json(template, x=bad)
                )
            )
        add(
            Probe(
                "text",
                f"audit resource {bad_name}",
                "GET",
                # Percent-encoded by hand: a lone surrogate's would-be UTF-8 bytes, or a NUL.
                "/api/v1/audit?resource=a" + ("%00" if bad_name == "nul" else "%ED%A0%80"),
            )
        )
    for prefix in (
        "transactions",
        "accounts",
        "sources",
        "traces",
        "parties",
        "assets",
        "cases",
        "imports/goaml",
    ):
        for label, raw in (
            ("NUL", "NUL%00X"),
            ("encoded surrogate", "%ED%A0%80"),
            ("invalid utf-8", "%FF%FE"),
            ("long", "x" * 8000),
        ):
            add(Probe("path", f"{prefix} {label}", "GET", f"/api/v1/{prefix}/{raw}"))

    # 4. Files: types a column must not have, twin headers, width and length bombs.
    uploads = "/api/v1/transactions/upload"
    for label, frame in (
        ("external_id list<str>", honest_frame(external_id=pl.Series([["a", "b"]]))),
        ("external_id struct", honest_frame(external_id=pl.Series([{"a": 1}]))),
        ("amount struct", honest_frame(amount=pl.Series([{"units": 1}]))),
        ("amount float", honest_frame(amount=pl.Series([10.0]))),
        ("narrative binary", honest_frame(narrative=pl.Series([b"\x00\xff"]))),
        ("value_time list", honest_frame(value_time=pl.Series([["2026-01-05T10:00:00Z"]]))),
    ):
        add(
            Probe(
                "file",
                f"parquet {label}",
                "POST",
                uploads,
                role="ingest",
                body=lambda f=frame: upload("t.parquet", parquet(f), "application/octet-stream"),
            )
        )
    for label, content in (
        ("twin external_id header", f"{HEADER},external_id\n{ROW},U-2\n".encode()),
        ("NUL in a cell", f"{HEADER},narrative\n{ROW},a\x00b\n".encode()),
        ("invalid utf-8", f"{HEADER},narrative\n{ROW},".encode() + b"\xff\xfe\n"),
        ("leap second", f"{HEADER}\n{ROW.replace('10:00:00Z', '23:59:60Z')}\n".encode()),
        ("offset +25:00", f"{HEADER}\n{ROW.replace('Z', '+25:00')}\n".encode()),
        ("not a csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        ("header only", f"{HEADER}\n".encode()),
    ):
        add(
            Probe(
                "file",
                f"csv {label}",
                "POST",
                uploads,
                role="ingest",
                options=upload("t.csv", content),
            )
        )
    add(
        Probe(
            "file",
            "csv with 10^6 extra columns",
            "POST",
            uploads,
            role="ingest",
            body=lambda: upload("t.csv", (HEADER + ",c" * 1_000_000 + "\n" + ROW + "\n").encode()),
        )
    )
    add(
        Probe(
            "file",
            "csv with a 50 MB line",
            "POST",
            uploads,
            role="ingest",
            body=lambda: upload("t.csv", f"{HEADER},narrative\n{ROW},".encode() + b"a" * 50 * MB),
        )
    )

    # 5. goAML: zip and XML bombs.
    imports = "/api/v1/imports/goaml"
    bombs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (
            "zip of 24 MB of <a/>",
            lambda: goaml(
                zipped(iter([("r.xml", repeated(b"<a/>", 24 * MB, b"<report>", b"</report>"))]))
            ),
        ),
        (
            "zip of 400 MB of spaces",
            lambda: goaml(
                zipped(
                    iter(
                        [("r.xml", repeated(b" ", 400 * MB, XML_HEAD + b"<report>", b"</report>"))]
                    )
                )
            ),
        ),
        (
            "zip of 5000 members",
            lambda: goaml(zipped((f"r{i}.xml", iter([b"<report/>"])) for i in range(5000))),
        ),
        (
            "zip inside a zip",
            lambda: goaml(
                zipped(
                    iter(
                        [
                            (
                                "inner.zip",
                                iter(
                                    [
                                        zipped(
                                            iter(
                                                [
                                                    (
                                                        "r.xml",
                                                        repeated(
                                                            b"<a/>",
                                                            8 * MB,
                                                            b"<report>",
                                                            b"</report>",
                                                        ),
                                                    )
                                                ]
                                            )
                                        )
                                    ]
                                ),
                            )
                        ]
                    )
                )
            ),
        ),
        (
            "xml nested 200000 deep",
            lambda: goaml(b"<a>" * 200_000 + b"</a>" * 200_000, "r.xml", "application/xml"),
        ),
        (
            "xml of 4 million elements",
            lambda: goaml(
                b"<report>" + b"<a/>" * 4_000_000 + b"</report>", "r.xml", "application/xml"
            ),
        ),
        (
            "billion laughs",
            lambda: goaml(
                XML_HEAD
                + b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                + b"".join(
                    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
                    for i in range(9)
                )
                + b"]><report>&j;</report>",
                "r.xml",
                "application/xml",
            ),
        ),
        (
            "external entity",
            lambda: goaml(
                XML_HEAD + b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><report>&x;'
                b"</report>",
                "r.xml",
                "application/xml",
            ),
        ),
        ("not xml", lambda: goaml(b"\x00\x01\x02" * 100, "r.xml", "application/xml")),
        ("truncated zip", lambda: goaml(zipped(iter([("r.xml", iter([b"<report/>"]))]))[:-10])),
    ]
    for label, make in bombs:
        add(Probe("goaml", label, "POST", imports, role="ingest", body=make))
    add(
        Probe(
            "goaml",
            "ftm import of NUL",
            "POST",
            "/api/v1/imports/ftm",
            role="ingest",
            options={
                "files": {"file": ("e.json", b'{"id": "a\\u0000", "schema": "Person"}\n')},
                "data": {"reference": "FTM-H"},
            },
        )
    )

    # 6. Bodies: oversized, chunked, nested, broken.
    batch_url = "/api/v1/transactions/batch"
    add(
        Probe(
            "body",
            "200 MB JSON batch, declared",
            "POST",
            batch_url,
            role="ingest",
            body=lambda: {
                "content": b'{"source": {"kind": "k", "reference": "r"}, "transactions": ["'
                + b"a" * 200 * MB
                + b'"]}',
                "headers": {"Content-Type": "application/json"},
            },
        )
    )
    add(
        Probe(
            "body",
            "60 MB JSON batch, chunked",
            "POST",
            batch_url,
            role="ingest",
            body=lambda: {
                "content": (chunk for chunk in repeated(b" ", 60 * MB, b"{", b"}")),
                "headers": {"Content-Type": "application/json"},
            },
        )
    )
    add(
        Probe(
            "body",
            "JSON nested 100000 deep",
            "POST",
            batch_url,
            role="ingest",
            options={
                "content": b"[" * 100_000 + b"]" * 100_000,
                "headers": {"Content-Type": "application/json"},
            },
        )
    )
    add(
        Probe(
            "body",
            "JSON with a 10^6-digit number",
            "POST",
            batch_url,
            role="ingest",
            options={
                "content": b'{"source": 1' + b"0" * 1_000_000 + b"}",
                "headers": {"Content-Type": "application/json"},
            },
        )
    )
    add(
        Probe(
            "body",
            "one row beyond BATCH_MAX_ROWS (100,001)",
            "POST",
            batch_url,
            role="ingest",
            body=lambda: {"json": batch(*(tx(f"BIG-{i}") for i in range(100_001)))},
        )
    )
    add(
        Probe(
            "body",
            "invalid utf-8 body",
            "POST",
            batch_url,
            role="ingest",
            options={
                "content": b'{"source": {"kind": "\xff"}}',
                "headers": {"Content-Type": "application/json"},
            },
        )
    )
    add(
        Probe(
            "body",
            "form body where JSON is expected",
            "POST",
            batch_url,
            role="ingest",
            options={"data": {"a": "b"}},
        )
    )

    # 7. Headers.
    add(
        Probe(
            "header",
            "two Authorization headers",
            "GET",
            "/api/v1/cases",
            role="none",
            options={"headers": [("Authorization", "Bearer x"), ("Authorization", "Bearer y")]},
        )
    )
    for label, value in (
        ("basic scheme", "Basic YWRtaW46YWRtaW4="),
        ("bearer without token", "Bearer"),
        ("bearer of 10 kB", "Bearer " + "a" * 10_000),
        ("bearer with NUL-like text", "Bearer a\tb"),
    ):
        add(
            Probe(
                "header",
                label,
                "GET",
                "/api/v1/cases",
                role="none",
                options={"headers": {"Authorization": value}},
            )
        )
    add(
        Probe(
            "header",
            "If-Match garbage on a transition",
            "POST",
            "/api/v1/assets/1/transitions",
            options={"headers": {"If-Match": 'W/"x", "'}, "json": {"to": "frozen"}},
        )
    )

    # 8. Conflicting re-sends of stored evidence: each must be refused whole.
    for fld, value in (
        ("narrative", "changed"),
        ("counterparty_name", "Someone Else"),
        ("counterparty_account", "acct:other"),
        ("channel", "cash"),
        ("sequence", 9),
        ("amount", "10.01"),
        ("value_time", "2026-01-05T10:00:01Z"),
    ):
        add(
            Probe(
                "conflict",
                f"known HB-1 with another {fld}",
                "POST",
                batch_url,
                role="ingest",
                options={"json": batch({**HONEST, fld: value}, reference="HONEST-1")},
            )
        )

    # 9. Roles, query abuse, methods.
    for role, method, path, options in (
        ("analyst", "POST", batch_url, {"json": batch(tx("R-1"))}),
        ("analyst", "POST", "/api/v1/keys", {"json": {"name": "x", "role": "admin"}}),
        ("ingest", "GET", f"/api/v1/cases/{case_id}", {}),
        ("ingest", "POST", "/api/v1/traces", {"json": {"seeds": [{"transaction": "HB-1"}]}}),
        ("analyst", "POST", "/api/v1/demo", {}),
        ("none", "GET", "/api/v1/audit", {}),
        ("ingest", "GET", "/api/v1/audit/verify", {}),
    ):
        add(Probe("role", f"{role} {method} {path}", method, path, role=role, options=options))
    # A limit beyond the cap is clamped, and a filter that matches nothing is an empty page.
    for params, may_succeed in (
        ({"limit": 10**30}, True),
        ({"limit": -1}, False),
        ({"limit": "0.5"}, False),
        ({"limit": ""}, False),
        ({"case_id": "1e3"}, False),
        ({"case_id": 2**70}, False),
        ({"key_id": "x" * 5000}, True),
        ({"operation": "\x00"}, False),
    ):
        add(
            Probe(
                "query",
                f"audit {params}"[:80],
                "GET",
                "/api/v1/audit",
                options={"params": params},
                may_succeed=may_succeed,
            )
        )
    for method, path in (
        ("DELETE", "/api/v1/cases"),
        ("PATCH", f"/api/v1/cases/{case_id}"),
        ("PUT", "/api/v1/transactions/batch"),
        ("OPTIONS", "/api/v1/cases"),
        ("TRACE", "/api/v1/cases"),
        ("GET", "/api/v1/../../etc/passwd"),
        ("POST", f"/api/v1/traces/{trace_id}/cancel"),
    ):
        # OPTIONS answers with what is allowed; cancelling a finished trace changes nothing.
        benign = method == "OPTIONS" or path.endswith("/cancel")
        add(Probe("method", f"{method} {path}", method, path, may_succeed=benign))
    return probes


def table_counts(url: str) -> dict[str, int]:
    """Rows per table, leaving out what a refused request may rightly add: its audit entry."""
    engine = create_engine(url)
    try:
        names = [n for n in inspect(engine).get_table_names() if not n.startswith("audit")]
        with engine.connect() as conn:
            return {
                n: int(conn.scalar(select(func.count()).select_from(table(n))) or 0) for n in names
            }
    finally:
        engine.dispose()


def audited_requests(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = conn.scalars(select(column("request_id")).select_from(table("audit_entries")))
            return set(ids)
    finally:
        engine.dispose()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, int]]:
    seen = {"start": rss(pid), "peak": rss(pid)}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                seen["peak"] = max(seen["peak"], rss(pid))
            stop.wait(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


def make_key(client: httpx.Client, role: str) -> str:
    r = client.post("/api/v1/keys", json={"name": f"hostile {role}", "role": role})
    r.raise_for_status()
    return str(r.json()["key"])


def honest_evidence(client: httpx.Client) -> tuple[int, str]:
    """What the corpus refers to: a demo case, a stored batch, a trace. Also warms the lazy
    imports (Parquet, lxml) so the memory figure measures the corpus, not the first use."""
    client.post("/api/v1/demo").raise_for_status()
    r = client.post(
        "/api/v1/transactions/batch",
        json=batch(HONEST, reference="HONEST-1"),
    )
    r.raise_for_status()
    frame = honest_frame(external_id=pl.Series(["HP-1"]))
    client.post(
        "/api/v1/transactions/upload",
        **upload("h.parquet", parquet(frame), "application/octet-stream"),
    ).raise_for_status()
    client.post(
        "/api/v1/transactions/upload",
        **upload("h.csv", f"{HEADER}\n{ROW.replace('U-1', 'HC-1')}\n".encode()),
    )
    r = client.post(
        "/api/v1/cases",
        json={
            "reference": "HOSTILE-CASE-1",
            "kind": "criminal_investigation",
            "title": "target of the hostile corpus",
            "jurisdiction": "DE",
            "lead_agency": "LKA",
        },
    )
    r.raise_for_status()
    case_id = int(r.json()["id"])
    r = client.post("/api/v1/traces", json={"seeds": [{"transaction": "HB-1"}], "case_id": None})
    r.raise_for_status()
    return case_id, str(r.json()["id"])


def send(client: httpx.Client, keys: dict[str, str], probe: Probe, request_id: str) -> int:
    options = dict(probe.options)
    if probe.body is not None:
        options.update(probe.body())
    given = options.pop("headers", {})
    # Each request names itself, so its audit entry can be found (or found missing).
    headers = [("X-Request-ID", request_id)]
    if probe.role != "none":
        headers.append(("Authorization", f"Bearer {keys[probe.role]}"))
    headers += list(given.items()) if isinstance(given, dict) else list(given)
    try:
        r = client.request(probe.method, probe.path, headers=headers, **options)
    except httpx.HTTPError as exc:
        print(f"no answer to {probe.kind}: {probe.label}: {exc!r}", flush=True)
        return 0
    return r.status_code


def run(db: str, only: str | None, *, verbose: bool) -> bool:
    folder = Path(tempfile.mkdtemp(prefix="mt-hostile-"))
    with (
        service.fresh_database(db, folder) as url,
        service.running_service(
            url, folder / "service.log", role="admin", env={"MONEYTRAIL_LOG_LEVEL": "WARNING"}
        ) as svc,
        httpx.Client(base_url=svc.base, timeout=300) as client,
    ):
        admin = httpx.Client(
            base_url=svc.base, timeout=300, headers={"Authorization": f"Bearer {svc.key}"}
        )
        case_id, trace_id = honest_evidence(admin)
        keys = {"admin": svc.key, **{r: make_key(admin, r) for r in ("analyst", "ingest")}}
        time.sleep(1)  # let any background work of the set-up settle before the baselines
        probes = [p for p in corpus(case_id, trace_id) if only in (None, p.kind)]
        before = table_counts(url)
        outcomes: dict[str, Counter[int]] = defaultdict(Counter)
        server_errors: list[str] = []
        accepted: list[str] = []
        with peak_rss(svc.pid) as memory:
            for n, probe in enumerate(probes):
                status = send(client, keys, probe, f"hostile-{n:04d}")
                outcomes[probe.kind][status] += 1
                if verbose:
                    print(f"{status:3d} {probe.kind:10} {probe.label}", flush=True)
                if 200 <= status < 300 and not probe.may_succeed:
                    accepted.append(f"{probe.kind}: {probe.label} -> {status}")
                if status >= 500 or status == 0:
                    server_errors.append(f"{probe.kind}: {probe.label} -> {status}")
        time.sleep(2)  # an audit writer that batches its commits has had its turn
        after, audited = table_counts(url), audited_requests(url)
        verification = admin.get("/api/v1/audit/verify").json()
        admin.close()
    stored = {n: after[n] - before.get(n, 0) for n in after if after[n] != before.get(n, 0)}
    missing = [
        f"{p.kind}: {p.label}" for n, p in enumerate(probes) if f"hostile-{n:04d}" not in audited
    ]
    growth = memory["peak"] - memory["start"]
    print(f"\nmoneytrail hostile corpus on {db}: {len(probes)} requests")
    print(f"{'kind':10} {'requests':>8}  statuses")
    for kind, statuses in outcomes.items():
        shown = " ".join(f"{s}x{n}" for s, n in sorted(statuses.items()))
        print(f"{kind:10} {sum(statuses.values()):8d}  {shown}")
    print(f"5xx or no answer:      {len(server_errors)} (target 0)")
    for line in server_errors:
        print(f"  {line}")
    print(f"hostile input accepted (2xx): {len(accepted)} (target 0)")
    for line in accepted:
        print(f"  {line}")
    print(f"stored anything:       {len(stored)} tables {stored or ''} (target 0)")
    print(
        f"peak server RSS growth: {growth / MB:.1f} MB (target under {RSS_TARGET // MB} MB; "
        f"from {memory['start'] / MB:.0f} MB)"
    )
    print(f"audit entries missing: {len(missing)} (target 0)")
    for line in missing:
        print(f"  {line}")
    print(f"audit verify:          {json.dumps(verification)}")
    ok_chain = bool(verification.get("ok", verification.get("valid", False)))
    return (
        not server_errors
        and not accepted
        and not stored
        and growth < RSS_TARGET
        and not missing
        and ok_chain
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", help="replay one kind of the corpus (cursor, text, file, ...)")
    parser.add_argument("--list", action="store_true", help="list the corpus and stop")
    parser.add_argument("--verbose", action="store_true", help="print each request's status")
    args = parser.parse_args()
    if args.list:
        for probe in corpus(1, "T"):
            print(f"{probe.kind:10} {probe.method:7} {probe.label}")
        print(f"{len(corpus(1, 'T'))} requests")
        return
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(db, args.only, verbose=args.verbose) for db in databases]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
