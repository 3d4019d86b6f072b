"""The application factory: nothing connects or reads the environment at import time."""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.account.keys import NORMALISED
from app.account.router import router as account_router
from app.apikey import service as apikey_service
from app.apikey.router import router as apikey_router
from app.asset.router import router as asset_router
from app.audit import checkpointer as audit_checkpointer
from app.audit import service as audit_service
from app.audit.middleware import AuditMiddleware
from app.audit.router import router as audit_router
from app.audit.writer import GroupWriter
from app.case import service as case_service
from app.case.filing import filing_case
from app.case.party_record import router as party_router
from app.case.router import router as case_router
from app.compartment.router import router as compartment_router
from app.convergence.router import notifications as notification_router
from app.convergence.router import router as convergence_router
from app.db import make_engine, make_request_readers, make_sessionmaker
from app.deadline.router import router as deadline_router
from app.demo.router import router as demo_router
from app.errors import install_error_handlers, install_problem_document
from app.goaml.router import router as goaml_router
from app.health import router as health_router
from app.inputs import query_is_utf8
from app.interop.router import router as interop_router
from app.matching.secret import MATCH_KEY, MATCH_KEY_FILE
from app.measure import sweeper as deadline_sweeper
from app.measure.router import asset_router as asset_registration_router
from app.measure.router import router as measure_router
from app.observability import RequestIdMiddleware, configure_logging
from app.overview.router import router as overview_router
from app.principal_cache import PrincipalCache, watch_standing
from app.proposal.router import router as proposal_router
from app.realisation.router import router as realisation_router
from app.resolution.router import router as resolution_router
from app.search.router import router as search_router
from app.security_headers import BodyLimitMiddleware, SecurityHeadersMiddleware
from app.settings import Settings, get_settings
from app.source.router import router as source_router
from app.statistics.router import router as statistics_router
from app.trace import lifecycle as trace_lifecycle
from app.trace.report_router import router as trace_report_router
from app.trace.router import router as trace_router
from app.transaction import staged as staged_loads
from app.transaction.duplicate_router import router as duplicate_router
from app.transaction.router import account_router as account_ledger_router
from app.transaction.router import router as transaction_router
from app.workers import WorkerPidMiddleware

log = structlog.get_logger("app.main")
ROUTERS = (
    health_router,
    apikey_router,
    source_router,
    compartment_router,
    resolution_router,
    party_router,
    account_router,
    account_ledger_router,
    transaction_router,
    search_router,
    duplicate_router,
    case_router,
    overview_router,
    convergence_router,
    notification_router,
    asset_router,
    asset_registration_router,
    measure_router,
    realisation_router,
    deadline_router,
    trace_router,
    proposal_router,
    trace_report_router,
    statistics_router,
    demo_router,
    goaml_router,
    interop_router,
    audit_router,
)
DESCRIPTION = """
moneytrail follows the proceeds of crime: load transactions and accounts with their provenance,
trace where the money went, and manage the legal life of what is found.

Every `/api/v1` operation needs an API key: press **Authorize** and paste the key printed at the
first start (or made with `moneytrail keys create --role ROLE`). Amounts are exact decimal
strings; times carry a timezone. Errors are `application/problem+json` (RFC 9457).
"""


def announce(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The last lines before the service answers: a new admin key, framed, then the address."""
    try:
        with sessions() as session:
            secret = apikey_service.bootstrap_admin(session)
    except SQLAlchemyError:
        log.warning("database_not_migrated", hint="run: moneytrail db upgrade")
        return
    if secret is not None:
        rule = "=" * 72
        sys.stderr.write(
            f"\n{rule}\n"
            "  FIRST START on an empty database: an admin API key was created.\n"
            "  It is shown THIS ONCE only; copy it now and keep it safe.\n\n"
            f"    Authorization: Bearer {secret}\n\n"
            "  In Swagger UI (/docs) press Authorize and paste the key.\n"
            "  To explore a worked example, load the demo case: `moneytrail demo load`\n"
            "  (or POST /api/v1/demo in Swagger UI).\n"
            f"{rule}\n\n"
        )
    base = f"http://{settings.host}:{settings.port}"
    sys.stderr.write(f"serving on {base}  (Swagger UI: {base}/docs)\n")
    sys.stderr.flush()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.engine = make_engine(
        settings.effective_database_url, lock_wait_seconds=settings.lock_wait_seconds
    )
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.writer_sessions = make_sessionmaker(app.state.engine, writer=True)
    app.state.request_readers = make_request_readers(app.state.engine)
    audit_service.record_with_commits(app.state.writer_sessions)
    if getattr(app.state, "audit_sink", None) is None:
        app.state.audit_sink = GroupWriter(
            app.state.writer_sessions, max_batch=settings.audit_batch_max
        )
    if isinstance(app.state.audit_sink, GroupWriter):
        app.state.audit_sink.start()
    await run_in_threadpool(
        staged_loads.discard_abandoned, app.state.sessionmaker, app.state.writer_sessions
    )
    await deadline_sweeper.start(app, settings)
    trace_lifecycle.start(app, settings)
    audit_checkpointer.start(app, settings)
    if settings.bootstrap_admin_key:  # what `moneytrail serve` sets; tests turn it off
        announce(app.state.sessionmaker, settings)
    yield
    await deadline_sweeper.stop(app)
    trace_lifecycle.stop(app)
    if isinstance(app.state.audit_sink, GroupWriter):
        await to_thread.run_sync(app.state.audit_sink.stop)
    await audit_checkpointer.stop(app)
    app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    app = FastAPIOffline(
        title="moneytrail",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
        static_url="/static/docs",
        favicon_url="/static/docs/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        dependencies=[Depends(query_is_utf8)],
    )
    app.state.settings = settings
    app.state.audit_sink = None
    app.state.key_lookup = apikey_service.principal_for
    watch_standing(apikey_service.STANDING_TABLES)
    app.state.principals = PrincipalCache(
        data_dir=settings.data_dir,
        max_entries=settings.principal_cache_entries,
        max_bytes=settings.principal_cache_bytes,
        max_age_seconds=settings.principal_cache_seconds,
    )
    app.state.membership_lookup = case_service.member_compartments
    app.state.filing_check = filing_case
    NORMALISED.resize(max_entries=settings.key_cache_entries, max_bytes=settings.key_cache_bytes)
    MATCH_KEY.configure(key=settings.match_key, path=settings.data_dir / MATCH_KEY_FILE)
    install_error_handlers(app)
    install_problem_document(app)
    # Bodies beyond their bound (a file upload's, or the far smaller JSON one) are refused unread.
    app.add_middleware(
        BodyLimitMiddleware,
        upload_limit=settings.upload_max_bytes,
        json_limit=settings.json_body_max_bytes,
    )
    # Outside every refusal but inside the request id: each request, refused or not, is audited.
    app.add_middleware(AuditMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if settings.expose_worker_pid:
        app.add_middleware(WorkerPidMiddleware)
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.description and route.summary is None:
                # The docstring's first line is the summary clients see in Swagger UI.
                route.summary = route.description.strip().splitlines()[0].rstrip(".")
        app.include_router(router)
    return app
