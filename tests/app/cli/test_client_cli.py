"""The `moneytrail import | trace | export` client against a real server on a free port."""

import argparse
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
import polars as pl
import pytest
import uvicorn

from app import migrate
from app.apikey import service as apikey_service
from app.cli import build_parser, main
from app.client.commands import (
    TRACE_OPTIONS,
    min_amount,
    seed_account,
    seed_transaction,
    trace_body,
)
from app.db import make_engine, make_sessionmaker
from app.demo.service import SEED_TRANSACTIONS
from app.interop.service import FTM_INSTALLED
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from app.trace import service as trace_service
from app.trace.schemas import TraceCreate
from tests.app.casework import criminal_case
from tests.conftest import fresh_database

needs_ftm = pytest.mark.skipif(not FTM_INSTALLED, reason="the ftm extra is not installed")

SAMPLES = Path(__file__).parents[1] / "goaml"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with serving(tmp_path) as found:
        yield found


@contextmanager
def serving(tmp_path: Path, **overrides: Any) -> Iterator[tuple[str, str]]:
    """A server on a free port with an admin key; `overrides` change its settings."""
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as s:
            _, secret = apikey_service.create_key(s, name="cli", role=Role.ADMIN, created_by=None)
        engine.dispose()
        settings = Settings(
            database_url=url,
            data_dir=tmp_path,
            bootstrap_admin_key=False,
            deadline_sweep_enabled=False,
            trace_warm_ledger=False,
            log_level="WARNING",
            **overrides,
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(create_app(settings), log_config=None, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}", secret
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            sock.close()


def ledger_file(path: Path, rows: int) -> Path:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    accounts = [f"acct:CLI-{i:04d}" for i in range(200)]
    pl.DataFrame(
        {
            "external_id": [f"CLI-{i}" for i in range(rows)],
            "from_account": [accounts[i % 200] for i in range(rows)],
            "to_account": [accounts[(i * 7 + 1) % 200] for i in range(rows)],
            "amount": [f"{1 + i % 5000}.{i % 100:02d}" for i in range(rows)],
            "currency": ["EUR"] * rows,
            "value_time": [start + timedelta(seconds=i) for i in range(rows)],
        }
    ).write_parquet(path)
    return path


def test_import_shows_progress_and_the_servers_counts(server, tmp_path, capsys, monkeypatch):
    url, key = server
    monkeypatch.setenv("MONEYTRAIL_URL", url)
    monkeypatch.setenv("MONEYTRAIL_KEY", key)
    path = ledger_file(tmp_path / "ledger.parquet", 20_000)
    assert main(["import", str(path), "--reference", "PO-CLI-1"]) == 0
    out, err = capsys.readouterr()
    assert "ledger.parquet" in out
    assert "20,000" in out
    assert "20,000 rows stored" in err  # the progress line, completed
    sources = httpx.get(f"{url}/api/v1/sources", headers={"Authorization": f"Bearer {key}"})
    (source,) = sources.json()["items"]
    assert (source["row_count"], source["inserted"], source["reference"]) == (
        20_000,
        20_000,
        "PO-CLI-1",
    )
    assert main(["import", str(path)]) == 0  # a replay: all already present
    out, _ = capsys.readouterr()
    row = next(line for line in out.splitlines() if "ledger.parquet" in line)
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        "ledger.parquet",
        "parquet",
        "nothing new",
        "20,000",
        "0",
        "20,000",
        "0",
    ]


@needs_ftm
def test_import_a_folder_of_goaml_and_ftm_then_trace_and_export(server, tmp_path, capsys):
    url, key = server
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("bi_party_str.xml", "multi_party_ctr.xml", "malformed.xml"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    auth = ["--url", url, "--key", key]
    assert main(["import", str(folder), *auth]) == 1  # one file refused
    out, err = capsys.readouterr()
    assert "malformed.xml" in err
    assert "goaml_rejected" not in out
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert [c.strip() for c in lines["bi_party_str.xml"].split("│")[2:-1]] == [
        "goaml",
        "stored",
        "2",
        "2",
        "0",
        "0",
    ]
    malformed = [c.strip() for c in lines["malformed.xml"].split("│")[2:-1]]
    # The format it was sent as, that it was rejected, and every fault listed.
    assert (malformed[0], malformed[1], malformed[-1]) == ("goaml", "rejected", "5")

    assert (
        httpx.post(f"{url}/api/v1/demo", headers={"Authorization": f"Bearer {key}"}).status_code
        == 201
    )
    seeds = [a for t in SEED_TRANSACTIONS for a in ("--seed-transaction", t)]
    code = main(
        ["trace", *seeds, "--rule", "fifo", "--export", "graphml", "--output", str(tmp_path), *auth]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert "done" in out
    (exported,) = tmp_path.glob("trace-*.graphml")
    graph = nx.read_graphml(exported)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (12, 15)
    trace_id = exported.name.removeprefix("trace-").removesuffix(".graphml")
    assert (
        main(["export", trace_id, "--format", "i2", "--output", str(tmp_path / "i2"), *auth]) == 0
    )
    assert sorted(p.name for p in (tmp_path / "i2").iterdir()) == [
        f"trace-{trace_id}-entities.csv",
        f"trace-{trace_id}-links.csv",
    ]
    report = tmp_path / "report.pdf"
    assert main(["export", trace_id, "--format", "pdf", "--output", str(report), *auth]) == 0
    assert report.read_bytes().startswith(b"%PDF-")
    assert main(["export", "no-such-trace", "--format", "gexf", *auth]) == 1


@needs_ftm
def test_an_ftm_export_goes_back_in_through_the_cli(server, tmp_path, capsys):
    url, key = server
    auth = ["--url", url, "--key", key]
    assert (
        httpx.post(f"{url}/api/v1/demo", headers={"Authorization": f"Bearer {key}"}).status_code
        == 201
    )
    seeds = [a for t in SEED_TRANSACTIONS for a in ("--seed-transaction", t)]
    assert main(["trace", *seeds, "--export", "ftm", "--output", str(tmp_path), *auth]) == 0
    (exported,) = tmp_path.glob("trace-*.ftm.json")
    capsys.readouterr()
    assert main(["import", str(exported), "--reference", "FTM-BACK", *auth]) == 0
    out, _ = capsys.readouterr()
    row = next(line for line in out.splitlines() if exported.name[:12] in line)
    cells = [c.strip() for c in row.split("│")[2:-1]]
    assert cells[:2] == ["ftm", "nothing new"]
    assert cells[3] == "0"  # every payment was already in the ledger
    assert cells[2] == cells[4]


def test_propose_a_traces_holdings_for_freezing(server, capsys):
    url, key = server
    auth = ["--url", url, "--key", key]
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.post(f"{url}/api/v1/demo", headers=headers).status_code == 201
    case_id = httpx.post(f"{url}/api/v1/cases", json=criminal_case(), headers=headers).json()["id"]
    body = {
        "seeds": [{"transaction": t} for t in SEED_TRANSACTIONS],
        "rule": "libr",
        "stop_at": ["iban:MT84MALT011000012345MTLCAST001S"],  # the exchange
    }
    trace_id = httpx.post(f"{url}/api/v1/traces", json=body, headers=headers).json()["id"]
    capsys.readouterr()
    propose = ["propose", trace_id, "--case", str(case_id), *auth]
    # EUR's own minimum replaces the one of every currency
    assert main([*propose, "--min-amount", "1", "--min-amount", "10000:eur"]) == 0
    out, err = capsys.readouterr()
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]
    assert [r[:4] for r in rows] == [
        ["iban:DE12500105170648489890", "EUR", "13000.00", "bank_balance TRACED"],
        ["iban:CY17002001280000001200527600", "EUR", "10900.00", "bank_balance TRACED"],
        ["iban:DE75512108001245126199", "EUR", "10500.00", "bank_balance TRACED"],
        ["iban:DE44500105175407324931", "EUR", "5100.00", "skipped: below_min_amount"],
        ["iban:GB29NWBK60161331926819", "EUR", "2500.00", "skipped: below_min_amount"],
        ["iban:DE02120300000000202051", "EUR", "700.00", "skipped: below_min_amount"],
        ["iban:NL91ABNA0417164300", "EUR", "300.00", "skipped: below_min_amount"],
    ]
    assert "3 asset(s) created, 4 skipped" in err
    assert main(propose) == 0  # the rest; the first three are not proposed twice
    out, err = capsys.readouterr()
    assert "4 asset(s) created, 3 skipped" in err
    assert out.count("already_proposed") == 3
    assert main(["propose", trace_id, "--case", "999999", *auth]) == 1


FULL_TRACE = [
    "trace",
    "--seed-transaction",
    "DEMO-D01#Jonas Weber",
    "--seed-account",
    "iban:DE44500105175407324931:5000.00:EUR@2026-01-05T10:00:00Z#Anna Berger",
    "--rule",
    "libr",
    "--claimant-rule",
    "pari_passu",
    "--direction",
    "forward",
    "--same-day-policy",
    "worst_case",
    "--max-hops",
    "4",
    "--start",
    "2026-01-01T00:00:00Z",
    "--end",
    "2026-03-01T00:00:00Z",
    "--as-of",
    "2026-02-01T00:00:00Z",
    "--min-amount",
    "10.00",
    "--stop-at",
    "iban:MT84MALT011000012345MTLCAST001S",
    "--no-stop-at-external",
    "--max-counterparties",
    "50",
    "--case",
    "7",
    "--role-threshold",
    "collector_min_senders=5",
    "--role-threshold",
    "sink_min_held=0.9",
]


def test_the_trace_command_has_an_option_for_every_field_of_the_apis_trace_request():
    assert set(TRACE_OPTIONS) == set(TraceCreate.model_fields)
    trace = build_parser()._subparsers._group_actions[0].choices["trace"]  # type: ignore[union-attr]
    known = {s for action in trace._actions for s in action.option_strings}
    assert {o for options in TRACE_OPTIONS.values() for o in options} <= known
    # Every option given: the request names every field the API takes, and the API accepts it.
    body = trace_body(build_parser().parse_args(FULL_TRACE))
    assert set(body) == set(TraceCreate.model_fields)
    request = TraceCreate.model_validate(body)
    assert request.seeds[1].account == "iban:DE44500105175407324931"
    assert (request.seeds[1].amount, request.seeds[1].currency) == ("5000.00", "EUR")
    assert request.stop_at_external is False
    assert request.case_id == 7
    assert request.roles is not None
    assert (request.roles.collector_min_senders, str(request.roles.sink_min_held)) == (5, "0.9")
    assert (request.seeds[1].claimant, request.claimant_rule) == ("Anna Berger", "pari_passu")
    assert (request.seeds[0].transaction, request.seeds[0].claimant) == ("DEMO-D01", "Jonas Weber")
    # Nothing given but a seed: nothing else is sent, so the server's defaults apply.
    assert trace_body(build_parser().parse_args(["trace", "--seed-transaction", "T"])) == {
        "seeds": [{"transaction": "T"}]
    }


@pytest.mark.parametrize(
    ("spec", "seed"),
    [
        ("acct:A:10.00:EUR", {"account": "acct:A", "amount": "10.00", "currency": "EUR"}),
        ("btc:bc1qxy::BTC", {"account": "btc:bc1qxy", "currency": "BTC"}),
        (
            "ext:a@b.example:1:USD@2026-01-05T10:00:00+01:00",
            {
                "account": "ext:a@b.example",
                "amount": "1",
                "currency": "USD",
                "at": "2026-01-05T10:00:00+01:00",
            },
        ),
        (
            "acct:A:600.00:EUR@2026-01-01T00:00:00Z#A. Berger",
            {
                "account": "acct:A",
                "amount": "600.00",
                "currency": "EUR",
                "at": "2026-01-01T00:00:00Z",
                "claimant": "A. Berger",
            },
        ),
    ],
)
def test_a_seed_account_is_read_from_the_right(spec, seed):
    assert seed_account(spec) == seed


def test_a_seed_account_without_a_currency_is_a_usage_error():
    with pytest.raises(argparse.ArgumentTypeError, match="ACCOUNT:AMOUNT:CURRENCY"):
        seed_account("iban:DE44500105175407324931")


@pytest.mark.parametrize(
    ("spec", "seed"),
    [
        ("T0042", {"transaction": "T0042"}),
        ("T0042#Anna Berger", {"transaction": "T0042", "claimant": "Anna Berger"}),
        ("T#1#B", {"transaction": "T#1", "claimant": "B"}),
    ],
)
def test_a_seed_transaction_names_its_claimant_after_the_last_hash(spec, seed):
    assert seed_transaction(spec) == seed


@pytest.mark.parametrize("spec", ["T0042#", "T0042# ", "#A"])
def test_a_seed_transaction_with_an_empty_part_is_a_usage_error(spec):
    with pytest.raises(argparse.ArgumentTypeError):
        seed_transaction(spec)


def test_a_minimum_amount_names_its_currency_after_a_colon():
    assert min_amount("1000") == ("1000", None)
    assert min_amount("0.05:btc") == ("0.05", "BTC")
    with pytest.raises(argparse.ArgumentTypeError, match="DECIMAL"):
        min_amount("5:")


def test_an_unreachable_server_is_one_line_and_exit_1(capsys):
    code = main(["trace", "--seed-transaction", "T", "--url", "http://127.0.0.1:9", "--key", "k"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("moneytrail: cannot reach http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_the_readmes_fifo_walkthrough_through_the_cli(tmp_path, capsys, monkeypatch):
    # A server that hands every trace over as a job, so the command polls and shows progress.
    # It does not wait for the engine (trace_sync_wait_seconds=0), but a job already done when
    # it looks is answered done: on a quiet machine the demo's trace could be, so the engine
    # starts half a second late here.
    engine = trace_service.trace

    def late(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)
        return engine(*args, **kwargs)

    monkeypatch.setattr(trace_service, "trace", late)
    with serving(tmp_path, trace_sync_wait_seconds=0.0) as (url, key):
        auth = ["--url", url, "--key", key]
        demo = httpx.post(f"{url}/api/v1/demo", headers={"Authorization": f"Bearer {key}"})
        assert demo.status_code == 201
        seeds = [a for t in SEED_TRANSACTIONS for a in ("--seed-transaction", t)]
        stop = ["--stop-at", "iban:MT84MALT011000012345MTLCAST001S"]
        assert main(["trace", *seeds, "--rule", "fifo", *stop, *auth]) == 0
        out, err = capsys.readouterr()
        rows = {
            cells[0]: cells[1]
            for line in out.splitlines()
            if len(cells := [c.strip() for c in line.split("│")[1:-1]]) == 2
        }
        # README, "A worked example", step 1.
        assert (rows["status"], rows["currency"], rows["taint_in"]) == ("done", "EUR", "46500.00")
        assert (rows["held"], rows["exited"]) == ("40100.00", "6400.00")
        assert "hop(s) searched" in err  # progress while the job ran

        # Refusals: one line each, the server's title, code and detail, exit code 1.
        assert main(["trace", *seeds, "--start", "01.01.2026", *auth]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("moneytrail: Request validation failed (validation_error, HTTP 422)")
        assert "start" in err
        assert "Traceback" not in err
        assert main(["trace", *seeds, "--url", url, "--key", "mt_wrong"]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert "HTTP 401" in err
        assert main(["export", "0" * 32, "--format", "gexf", *auth]) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert "HTTP 404" in err


def test_search_prints_the_hits(server, capsys):
    url, key = server
    body = {
        "source": {"kind": "register", "reference": "R-CLI"},
        "parties": [{"key": "person:petrov", "kind": "person", "name": "Владимир Петров"}],
    }
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.post(f"{url}/api/v1/accounts/batch", json=body, headers=auth).status_code == 201
    assert main(["search", "petrov", "vladimir", "--url", url, "--key", key]) == 0
    out, _ = capsys.readouterr()
    (row,) = [line for line in out.splitlines() if "person:petrov" in line]
    assert [c.strip() for c in row.split("│")[1:4]] == [
        "person:petrov",
        "Владимир Петров",
        "person",
    ]
