"""The `moneytrail` command: serve, migrate, manage keys, verify the audit trail."""

import argparse
import gc
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from app import migrate
from app import models as _every_table  # noqa: F401  (a flush needs every table its rows name)
from app import workers as workers_module
from app.apikey import service as apikey_service
from app.audit import service as audit_service
from app.audit.checkpointer import signer_for
from app.audit.checkpoints import Claim
from app.audit.schemas import AuditCheckpointRead
from app.client import commands as client_commands
from app.client.api import ENV_URL, ApiError, CliError
from app.db import make_engine, make_sessionmaker
from app.demo import service as demo_service
from app.errors import InvalidInput
from app.matching import service as matching_service
from app.matching.secret import MATCH_KEY, MATCH_KEY_FILE
from app.principal import Principal, Role
from app.principal_cache import share_generation, watch_standing
from app.settings import get_settings
from app.trace import lake_cli


def _db_upgrade(_args: argparse.Namespace) -> int:
    url = get_settings().effective_database_url
    migrate.upgrade(url)
    print(f"database at head: {_redacted(url)}", file=sys.stderr)
    return 0


def _db_downgrade(args: argparse.Namespace) -> int:
    migrate.downgrade(get_settings().effective_database_url, args.revision)
    return 0


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _freeze_startup_objects() -> None:
    """Exclude what the service imports from every later garbage collection.

    The modules (FastAPI, SQLAlchemy, Polars, Numba, the app) leave hundreds of thousands of
    objects that live as long as the process; a full collection walked them all, a pause on
    whichever request triggered it. Frozen, they are never walked (nor freed: they never die).
    """
    import app.main  # noqa: F401 - imported for its side effect: every module the service needs

    gc.collect()
    gc.freeze()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    _freeze_startup_objects()
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    host, port = args.host or settings.host, args.port or settings.port
    # The app's settings come from the environment: the address it announces is the one served.
    os.environ.update(MONEYTRAIL_HOST=host, MONEYTRAIL_PORT=str(port))
    get_settings.cache_clear()
    print(
        f"database: {_redacted(settings.effective_database_url)} (migrated)\n"
        "starting: compiling the tracing engine (a minute on a first start, seconds after)",
        file=sys.stderr,
        flush=True,
    )
    workers = args.workers or settings.workers
    if workers > 1:
        workers_module.prepare(get_settings(), workers)
        # prepare() changed the environment the workers read their settings from; forked, they
        # would keep this process's cached settings instead
        get_settings.cache_clear()
        workers_module.fork_workers()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        workers=workers if workers > 1 else None,
        # A worker answers the supervisor's ping only once it has imported the service, which
        # takes longer than uvicorn's 5 s on a busy machine: it would be killed, again and again.
        timeout_worker_healthcheck=120,
    )
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            key, secret = apikey_service.create_key(
                session,
                name=args.name or f"{args.role} key",
                role=Role(args.role),
                created_by=None,
                case_id=args.case,
            )
            bound = f", filing into case {key.case_id}" if key.case_id is not None else ""
    except InvalidInput as exc:
        print(f"moneytrail: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(
        f"created API key {key.id} ({key.role}{bound}); the secret follows, shown this once only:"
    )
    print(secret)
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    # A running service's workers keep callers they looked up lately: held open, the data
    # directory's generation is bumped as the revocation commits, so they drop this key at once.
    generation = share_generation(settings.data_dir)
    watch_standing(apikey_service.STANDING_TABLES)
    with make_sessionmaker(engine)() as session:
        key = apikey_service.revoke_key(session, args.key_id)
    engine.dispose()
    generation.close()
    print(f"revoked API key {key.id}")
    return 0


def _demo_load(_args: argparse.Namespace) -> int:
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    with make_sessionmaker(engine)() as session:
        # The demo's records need an uploader like any other: a key that is revoked at once.
        key, _ = apikey_service.create_key(
            session, name="demo loader", role=Role.INGEST, created_by=None
        )
        apikey_service.revoke_key(session, key.id)
        actor = Principal(id=key.id, name=key.name, role=Role.INGEST)
        result = demo_service.load_demo(session, actor=actor, settings=settings)
    engine.dispose()
    print(
        f"demo case loaded: {result.inserted} transactions new, {result.already_present} already "
        f"present (source document {result.source_document_id}).\n"
        f"Trace it: POST /api/v1/traces with seeds {list(demo_service.SEED_TRANSACTIONS)}"
    )
    return 0


def _deadlines_sweep(_args: argparse.Namespace) -> int:
    from app.measure import sweeper

    engine = make_engine(get_settings().effective_database_url)
    swept = sweeper.sweep_once(make_sessionmaker(engine, writer=True))
    engine.dispose()
    for m in swept:
        print(f"asset {m.asset_id}: {m.from_status} -> {m.to_status} (lapse event {m.id})")
    became = Counter(m.to_status for m in swept)
    counts = ", ".join(f"{became[s]} {s}" for s in ("EXPIRED", "RELEASED"))
    print(f"{len(swept)} lapsed measure(s): {counts}")
    return 0


def _convergence_reindex(_args: argparse.Namespace) -> int:
    settings = get_settings()
    MATCH_KEY.configure(key=settings.match_key, path=settings.data_dir / MATCH_KEY_FILE)
    engine = make_engine(settings.effective_database_url)
    with make_sessionmaker(engine, writer=True)() as session:
        documents, notified = matching_service.reindex(session)
    engine.dispose()
    print(f"match table rebuilt from {documents} document(s); {notified} new notification(s)")
    return 0


def _kept_checkpoint(path: str) -> Claim:
    try:
        kept = AuditCheckpointRead.model_validate_json(Path(path).read_bytes())
    except (OSError, ValidationError) as exc:
        hint = "an item of GET /api/v1/audit/checkpoints, saved as JSON"
        raise SystemExit(f"{path}: not a checkpoint ({hint}): {exc}") from None
    return Claim(
        checkpoint_id=kept.id,
        entries=kept.entries,
        head_hash=kept.head_hash,
        timestamp=kept.timestamp,
        public_key=kept.public_key,
        signature=kept.signature,
    )


def _audit_verify(args: argparse.Namespace) -> int:
    settings = get_settings()
    kept = [_kept_checkpoint(path) for path in args.checkpoint]
    engine = make_engine(settings.effective_database_url)
    with make_sessionmaker(engine)() as session:
        result = audit_service.verify(session, signer=signer_for(settings), kept=kept)
    engine.dispose()
    print(json.dumps(result, indent=2))
    return 0 if result["valid"] else 1


def _audit_checkpoint(_args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    taken = audit_service.take_checkpoint(
        make_sessionmaker(engine, writer=True), signer_for(settings)
    )
    engine.dispose()
    if taken is None:
        print("no entry since the last checkpoint: nothing to sign", file=sys.stderr)
        return 0
    print(AuditCheckpointRead.model_validate(taken).model_dump_json(indent=2))
    return 0


def _lake_sync(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.trace.lake_sync import sync_lake

    engine = make_engine(get_settings().effective_database_url)
    with make_sessionmaker(engine)() as session:
        manifest = sync_lake(session, Path(args.to), buckets=args.buckets)
    engine.dispose()
    print(
        f"lake {args.to}: manifest {manifest.id}, {manifest.transactions} transactions from "
        f"{len(manifest.documents)} source documents in {len(manifest.files)} files"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moneytrail", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database and serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default: the setting)")
    serve.set_defaults(run=_serve)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply every migration").set_defaults(run=_db_upgrade)
    down = db.add_parser("downgrade", help="revert to a revision ('base': empty)")
    down.add_argument("revision")
    down.set_defaults(run=_db_downgrade)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="keys", required=True)
    create = keys.add_parser("create", help="create a key; prints it alone on the last line")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name")
    create.add_argument(
        "--case", type=int, metavar="ID", help="bind an ingest key to a case: it files there"
    )
    create.set_defaults(run=_keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_keys_revoke)
    demo = commands.add_parser("demo", help="the demo case").add_subparsers(
        dest="demo", required=True
    )
    demo.add_parser("load", help="load the demo case (idempotent)").set_defaults(run=_demo_load)
    deadlines = commands.add_parser("deadlines", help="time limits of legal measures")
    deadline_commands = deadlines.add_subparsers(dest="deadlines", required=True)
    deadline_commands.add_parser(
        "sweep", help="move measures whose expiry has passed to EXPIRED"
    ).set_defaults(run=_deadlines_sweep)
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser(
        "verify", help="replay the hash chain against its checkpoints; exit 1 when it fails"
    )
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint kept as JSON (an item of GET /api/v1/audit/checkpoints); repeatable",
    )
    verify.set_defaults(run=_audit_verify)
    audit.add_parser(
        "checkpoint", help="sign the chain's head now and print the checkpoint as JSON"
    ).set_defaults(run=_audit_checkpoint)
    convergence = commands.add_parser("convergence", help="matches between cases")
    convergence.add_subparsers(dest="convergence", required=True).add_parser(
        "reindex",
        help="rebuild the match table's digests of case-filed documents (after filing data "
        "before this table existed, or a new match_key)",
    ).set_defaults(run=_convergence_reindex)
    lake = commands.add_parser("lake", help="the Parquet lake traced on Spark")
    lake_commands = lake.add_subparsers(dest="lake", required=True)
    sync = lake_commands.add_parser(
        "sync", help="append the source documents the lake lacks, then commit its manifest"
    )
    sync.add_argument("--to", required=True, help="the lake's directory")
    sync.add_argument(
        "--buckets", type=int, default=64, help="hash buckets of a new lake (kept after)"
    )
    sync.set_defaults(run=_lake_sync)
    client_commands.register(commands)
    trace = commands.choices["trace"]
    lake_cli.add_arguments(trace)
    trace.set_defaults(run=_trace)
    return parser


def _trace(args: argparse.Namespace) -> int:
    # With --engine the trace runs here on a lake; without, a server runs it.
    if args.engine is not None:
        return lake_cli.run_on_lake(args)
    return client_commands.run_trace(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (ApiError, CliError) as exc:
        return _refused(str(exc))
    except httpx.TransportError as exc:
        url = getattr(args, "url", None) or os.environ.get(ENV_URL, "the server")
        return _refused(f"cannot reach {url}: {exc or type(exc).__name__}")
    return code


def _refused(line: str) -> int:
    """A refusal or failure said in one line on stderr, never a traceback; exit code 1."""
    print(f"moneytrail: {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
