"""The `moneytrail import | trace | export` client against a real server on a free port."""

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import networkx as nx
import polars as pl
import pytest
import uvicorn

from app import migrate
from app.apikey import service as apikey_service
from app.cli import main
from app.db import make_engine, make_sessionmaker
from app.demo.service import SEED_TRANSACTIONS
from app.interop.service import FTM_INSTALLED
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import fresh_database

needs_ftm = pytest.mark.skipif(not FTM_INSTALLED, reason="the ftm extra is not installed")

SAMPLES = Path(__file__).parent / "goaml"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
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
        "2",
        "2",
        "0",
        "0",
    ]
    assert lines["malformed.xml"].split("│")[-2].strip() == "5"  # rejected: every fault listed

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
    assert cells[0] == "ftm"
    assert cells[2] == "0"  # every payment was already in the ledger
    assert cells[1] == cells[3]
