"""Signed checkpoints anchor the audit chain: a shortened or recomputed chain no longer matches."""

import base64
import json
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr
from sqlalchemy import text

from app.audit import checkpointer, checkpoints
from app.audit import service as audit_service
from app.audit.models import AuditCheckpoint
from app.audit.signing import Signer
from app.cli import main
from app.db import make_engine
from app.settings import get_settings
from tests.app.auditing import Live, intruder, live_app, migrated, rewrite_from, serving


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_app(tmp_path) as app:
        yield app


def _requests(live: Live, n: int) -> None:
    for i in range(n):
        live.client.get(f"/api/v1/transactions/R-{i}", headers=live.analyst)


def _checkpoint(live: Live) -> dict[str, Any]:
    state = live.client.app.state  # type: ignore[attr-defined]
    assert audit_service.take_checkpoint(state.writer_sessions, state.audit_signer) is not None
    r = live.client.get("/api/v1/audit/checkpoints", headers=live.admin, params={"limit": 1})
    assert r.status_code == 200, r.text
    return dict(r.json()["items"][0])


def _cli_verify(live: Live, folder: Path, monkeypatch, capsys, kept: dict[str, Any]) -> Any:
    path = folder / "kept-checkpoint.json"
    path.write_text(json.dumps(kept))
    monkeypatch.setenv("MONEYTRAIL_DATABASE_URL", live.settings.database_url)
    monkeypatch.setenv("MONEYTRAIL_DATA_DIR", str(live.settings.data_dir))
    get_settings.cache_clear()
    capsys.readouterr()
    try:
        code = main(["audit", "verify", "--checkpoint", str(path)])
    finally:
        get_settings.cache_clear()
    return code, json.loads(capsys.readouterr().out)


def test_a_checkpoint_verifies_offline_with_the_public_key_it_names(live: Live) -> None:
    _requests(live, 3)
    kept = _checkpoint(live)
    assert kept["entries"] == len(live.entries()) - 1  # the listing itself came after
    # The recipe of docs/audit-checkpoints.md, with nothing of moneytrail.
    statement = f"moneytrail audit trail\n{kept['entries']}\n{kept['head_hash']}\n"
    statement += f"{kept['timestamp']}\n"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(kept["public_key"]))
    key.verify(base64.b64decode(kept["signature"]), statement.encode())
    chain = live.entries()
    assert chain[kept["entries"] - 1]["entry_hash"] == kept["head_hash"]
    result = live.verify()
    assert (result["valid"], result["checkpoints"]) == (True, 1)


def test_a_truncated_tail_fails_against_a_checkpoint(
    live: Live, tmp_path: Path, monkeypatch, capsys
) -> None:
    _requests(live, 4)
    kept = _checkpoint(live)
    first = live.entries()[0]["id"]
    with intruder(live.engine) as conn:
        # Every entry but the first removed: the chain is shorter than the checkpoint even
        # after the verifications below append theirs.
        conn.execute(text("DELETE FROM audit_entries WHERE id > :i"), {"i": first})
    result = live.verify()
    assert result["valid"] is False
    assert result["checkpoint_failure"]["reason"].startswith("truncated")
    with intruder(live.engine) as conn:  # and every stored checkpoint with them
        conn.execute(text("DELETE FROM audit_checkpoints"))
    # The chain alone still links up; only a kept checkpoint shows the loss.
    assert live.verify()["valid"] is True
    code, offline = _cli_verify(live, tmp_path, monkeypatch, capsys, kept)
    assert code == 1
    assert offline["checkpoint_failure"]["reason"].startswith("truncated")
    via_api = live.verify(entries=kept["entries"], head_hash=kept["head_hash"])
    assert via_api["checkpoint_failure"]["reason"].startswith("truncated")


def test_a_recomputed_rewrite_fails_against_a_checkpoint(
    live: Live, tmp_path: Path, monkeypatch, capsys
) -> None:
    _requests(live, 5)
    kept = _checkpoint(live)
    victim = live.entries()[2]
    with intruder(live.engine) as conn:
        rewrite_from(conn, victim["id"], outcome=200)
        conn.execute(text("DELETE FROM audit_checkpoints"))
    assert live.verify()["valid"] is True  # recomputed: every link holds
    code, offline = _cli_verify(live, tmp_path, monkeypatch, capsys, kept)
    assert code == 1
    assert offline["checkpoint_failure"]["reason"].startswith("rewritten")
    assert offline["first_broken"] is None
    via_api = live.verify(entries=kept["entries"], head_hash=kept["head_hash"])
    assert via_api["checkpoint_failure"]["reason"].startswith("rewritten")


def test_a_stored_rewrite_fails_against_the_stored_checkpoint(live: Live) -> None:
    _requests(live, 3)
    _checkpoint(live)
    victim = live.entries()[1]
    with intruder(live.engine) as conn:
        rewrite_from(conn, victim["id"], outcome=200)
    result = live.verify()
    assert result["valid"] is False
    assert result["checkpoint_failure"]["reason"].startswith("rewritten")


def test_the_cli_accepts_an_intact_chain_and_refuses_a_forged_checkpoint(
    live: Live, tmp_path: Path, monkeypatch, capsys
) -> None:
    _requests(live, 2)
    kept = _checkpoint(live)
    code, offline = _cli_verify(live, tmp_path, monkeypatch, capsys, kept)
    assert (code, offline["valid"], offline["checkpoints"]) == (0, True, 2)
    forged = {**kept, "entries": kept["entries"] + 1}
    code, offline = _cli_verify(live, tmp_path, monkeypatch, capsys, forged)
    assert code == 1
    assert "signature" in offline["checkpoint_failure"]["reason"]


def test_a_checkpoint_signed_by_another_key_is_refused(live: Live) -> None:
    _requests(live, 2)
    state = live.client.app.state  # type: ignore[attr-defined]
    other = Signer(key=SecretStr(_seed(Ed25519PrivateKey.generate())), path=Path("/nonexistent"))
    with state.writer_sessions() as session:
        forged = checkpoints.next_checkpoint(session, other, min_new=1)
        assert forged is not None
        session.add(forged)
        session.commit()
    result = live.verify()
    assert result["valid"] is False
    assert "not by this service's key" in result["checkpoint_failure"]["reason"]


def _seed(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def test_checkpoints_are_taken_every_n_entries_and_at_shutdown(tmp_path: Path) -> None:
    overrides = {"audit_checkpoint_entries": 4, "audit_checkpoint_minutes": 60}
    with migrated(tmp_path, **overrides) as settings:
        with serving(settings) as live:
            state = live.client.app.state  # type: ignore[attr-defined]
            args = (state.sessionmaker, state.writer_sessions, state.audit_signer, settings)
            _requests(live, 2)
            checkpointer.take_if_due(*args)
            assert _stored(live) == []  # two entries, a minute old at most: not due
            _requests(live, 2)
            checkpointer.take_if_due(*args)
            assert [c.entries for c in _stored(live)] == [4]
            _requests(live, 3)
        engine = make_engine(settings.effective_database_url)
        with engine.connect() as conn:  # the app has stopped: it signed what it held
            rows = conn.execute(text("SELECT entries FROM audit_checkpoints ORDER BY id"))
            assert list(rows.scalars()) == [4, 7]
        engine.dispose()


def test_a_checkpoint_is_due_when_an_entry_waited_long_enough(live: Live) -> None:
    _requests(live, 1)
    state = live.client.app.state  # type: ignore[attr-defined]
    with state.sessionmaker() as session:
        assert not checkpoints.due(session, every_entries=1000, max_age=timedelta(minutes=5))
        assert checkpoints.due(session, every_entries=1000, max_age=timedelta(0))
        assert checkpoints.due(session, every_entries=1, max_age=timedelta(minutes=5))
    _checkpoint(live)
    with state.sessionmaker() as session:
        # One entry is new (the listing), and younger than five minutes.
        assert not checkpoints.due(session, every_entries=1000, max_age=timedelta(minutes=5))
        assert checkpoints.due(session, every_entries=1000, max_age=timedelta(0))


def _stored(live: Live) -> list[AuditCheckpoint]:
    with live.client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        return list(session.query(AuditCheckpoint).order_by(AuditCheckpoint.id))


def test_the_signing_key_is_made_on_first_need_for_its_owner_only(live: Live) -> None:
    path = live.settings.data_dir / "audit-signing-key.pem"
    assert not path.exists()
    _requests(live, 1)
    kept = _checkpoint(live)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = Signer(key=None, path=path)
    assert again.public_key == kept["public_key"]


def test_a_key_from_the_settings_signs_instead(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    with live_app(tmp_path, audit_signing_key=SecretStr(_seed(key))) as live:
        _requests(live, 1)
        assert _checkpoint(live)["public_key"] == public
    assert not (tmp_path / "audit-signing-key.pem").exists()


def test_the_checkpoint_list_pages_and_refuses_a_foreign_cursor(live: Live) -> None:
    for _ in range(3):
        _requests(live, 1)
        _checkpoint(live)
    first = live.client.get("/api/v1/audit/checkpoints", headers=live.admin, params={"limit": 2})
    body = first.json()
    assert [c["entries"] for c in body["items"]] == sorted(
        (c["entries"] for c in body["items"]), reverse=True
    )
    rest = live.client.get(
        "/api/v1/audit/checkpoints",
        headers=live.admin,
        params={"limit": 2, "cursor": body["next_cursor"]},
    )
    assert len(rest.json()["items"]) == 1
    foreign = base64.urlsafe_b64encode(b'["abc"]').decode().rstrip("=")
    r = live.client.get("/api/v1/audit/checkpoints", headers=live.admin, params={"cursor": foreign})
    assert r.status_code == 422
    denied = live.client.get("/api/v1/audit/checkpoints", headers=live.analyst)
    assert denied.status_code == 403
