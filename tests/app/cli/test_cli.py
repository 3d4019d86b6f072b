import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from app import migrate
from app.cli import main
from app.main import create_app
from app.settings import Settings, get_settings


def test_keys_create_prints_the_key_alone_on_the_last_line(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MONEYTRAIL_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 0
        assert main(["keys", "create", "--role", "investigator"]) == 0
    finally:
        get_settings.cache_clear()
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("mt_")
    app = create_app(
        Settings(
            database_url=url, data_dir=tmp_path, bootstrap_admin_key=False, trace_warm_ledger=False
        )
    )
    with TestClient(app) as c:
        assert (
            c.get("/api/v1/sources", headers={"Authorization": f"Bearer {secret}"}).status_code
            == 200
        )


def test_first_start_on_an_empty_database_prints_an_admin_key_once(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/first.db"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, bootstrap_admin_key=True, trace_warm_ledger=False
    )
    with TestClient(create_app(settings)) as c:
        printed = capsys.readouterr().err
        secret = next(w for w in printed.split() if w.startswith("mt_"))
        assert (
            c.get("/api/v1/keys", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        )
    with TestClient(create_app(settings)):
        assert "mt_" not in capsys.readouterr().err


def test_cli_entry_point_is_installed() -> None:
    out = subprocess.run(
        [Path(sys.executable).parent / "moneytrail", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("serve", "db", "keys"):
        assert command in out


def test_the_first_key_is_framed_and_the_last_thing_before_serving_on(tmp_path: Path, capsys):
    url = f"sqlite:///{tmp_path}/framed.db"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=True,
        trace_warm_ledger=False,
        deadline_sweep_enabled=False,
        port=8123,
    )
    with TestClient(create_app(settings)):
        lines = capsys.readouterr().err.rstrip().splitlines()
    base = "http://127.0.0.1:8123"
    assert lines[-1] == f"serving on {base}  (Swagger UI: {base}/docs)"
    frame = [i for i, line in enumerate(lines) if line == "=" * 72]
    assert frame[-1] == len(lines) - 3  # the frame closes, a blank line, then "serving on"
    assert any(line.strip().startswith("Authorization: Bearer mt_") for line in lines[frame[0] :])
    with TestClient(create_app(settings)):
        again = capsys.readouterr().err.rstrip().splitlines()
    assert again[-1] == f"serving on {base}  (Swagger UI: {base}/docs)"
    assert "=" * 72 not in again
