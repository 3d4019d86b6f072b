"""Trace use cases: run (waiting briefly, else as a job), read, rerun, cancel."""

import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, object_session

from app.account.keys import normalise_key
from app.attributes import same_named
from app.case import service as case_service
from app.compartments import EVERY, Compartments, compartments_of
from app.db import reading
from app.errors import Conflict, InvalidInput, RecordNotFound
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.trace import filing, results, roles, spark_engine, views
from app.trace.jobs import Work
from app.trace.models import TraceRun
from app.trace.repository import TRACES, TraceRepository, account_hashes
from app.trace.runtime import TraceRuntime
from app.trace.schemas import RoleThresholds, TraceCreate, TraceRead, TraceStatus
from app.transaction import corrections, duplicate_service
from app.transaction import service as transaction_service
from app.transaction.service import LedgerRead
from tracing import (
    ENGINE_VERSION,
    AccountSeed,
    Frame,
    InvalidTraceParams,
    Ledger,
    Mask,
    Progress,
    TraceCancelled,
    TraceParams,
    TraceResult,
    TracingError,
    trace,
)


class TraceNotFound(RecordNotFound):
    code, title = "trace_not_found", "Trace not found"
    noun, key = "trace", "trace_id"


class UnknownStopAccounts(InvalidInput):
    code, title = "unknown_stop_accounts", "Unknown stop accounts"

    def __init__(self, bad: list[tuple[int, str]]) -> None:
        # A typo must not leave an exchange unstopped: each key is named, by position.
        super().__init__(
            "no such account in the ledger to stop at: " + ", ".join(k for _, k in bad),
            errors=[
                {"loc": ["body", "stop_at", i], "msg": f"no such account: {k}", "type": "value"}
                for i, k in bad
            ],
            accounts=[k for _, k in bad],
        )


class TraceNotFinished(Conflict):
    code, title = "trace_not_finished", "Trace not finished"

    def __init__(self, run: TraceRun) -> None:
        super().__init__(
            f"trace {run.id} is {run.status}; its result is not available", status=run.status
        )


class MaskedTraceOnLake(Conflict):
    code, title = "masked_trace_on_lake", "Compartments not supported by the lake engine"

    def __init__(self) -> None:
        super().__init__(
            "the lake holds transactions of compartments you may not see and the lake engine "
            "cannot leave them out: ask an admin or supervisor, or trace with the memory engine"
        )


class TraceReadsOtherCompartments(Conflict):
    code, title = "trace_reads_other_compartments", "Trace read records of other cases"

    def __init__(self, trace_id: str, case_id: int, others: list[int]) -> None:
        # The caller sees the trace, so they are on every case it read: naming them is no leak.
        named = ", ".join(str(c) for c in others)
        super().__init__(
            f"trace {trace_id} read records filed in case {named}, not only in the shared pool "
            f"and case {case_id}: its figures come from records that case {case_id}'s members "
            "may not all see. Use it in the case whose records it read, or ask an admin to "
            "refile those records",
            trace_id=trace_id,
            case_id=case_id,
            other_cases=others,
        )


# Canonical JSON beyond this many bytes is hashed and packed on a helper thread.
_OFFLOAD = 256 * 1024
# What the engine's parameters take from the request as it was given, under the same names.
AS_REQUESTED = [
    "direction",
    "rule",
    "same_day_policy",
    "max_hops",
    "max_counterparties",
    "as_of",
    "claimant_rule",
]


def _stop_accounts(given: list[str], ledger: Ledger, mask: Mask | None = None) -> set[str]:
    """The stop accounts asked for, each a key of the ledger (else 422 naming it); under a
    mask, of the transactions visible (a hidden account does not exist for the caller)."""
    if not given:
        return set()
    keys = [normalise_key(s) for s in given]
    known = ledger.account_ids([k for k in keys if k is not None])
    found = iter(known.tolist())
    if mask is not None:
        found = iter([a if a >= 0 and mask.knows_account(a) else -1 for a in known.tolist()])
    bad = [(i, given[i]) for i, k in enumerate(keys) if k is None or next(found) < 0]
    if bad:
        raise UnknownStopAccounts(bad)
    return {k for k in keys if k is not None}


def _lake_stop_accounts(given: list[str]) -> set[str]:
    # The lake's account list is not held by the service: keys are normalised, not looked up.
    return {k for k in (normalise_key(s) for s in given) if k is not None}


def _seeds_named(session: Session, body: TraceCreate, compartments: Compartments) -> TraceCreate:
    """The body with each seed transaction named by its engine id, found among the records the
    caller may see (an external id of a case's record names it when unambiguous: see
    docs/engine-ids.md); a seed found nowhere stays as given, for the engine to refuse."""
    if not any(s.transaction is not None for s in body.seeds):
        return body
    seeds = [
        s
        if s.transaction is None
        else s.model_copy(
            update={
                "transaction": transaction_service.engine_id_for(
                    session, s.transaction, compartments
                )
                or s.transaction
            }
        )
        for s in body.seeds
    ]
    return body.model_copy(update={"seeds": seeds})


def build_params(
    body: TraceCreate,
    stop_accounts: Callable[[list[str]], set[str]],
    externals: Callable[[], frozenset[str]],
    settings: Settings,
) -> TraceParams:
    seeds, seed_transactions, transaction_claimants = [], [], []
    for i, seed in enumerate(body.seeds):
        if seed.transaction is not None:
            seed_transactions.append(seed.transaction)
            if seed.claimant is not None:
                transaction_claimants.append((seed.transaction, seed.claimant))
            continue
        assert seed.account is not None
        assert seed.currency is not None
        key = normalise_key(seed.account)
        if key is None:
            raise InvalidTraceParams(f"seeds[{i}].account is not an account key: {seed.account}")
        amount = None if seed.amount is None else Decimal(seed.amount)
        seeds.append(
            AccountSeed(
                account=key,
                currency=seed.currency.upper(),
                amount=amount,
                at=seed.at,
                claimant=seed.claimant,
            )
        )
    stops = stop_accounts(body.stop_at)
    if body.stop_at_external:
        stops |= externals() - {s.account for s in seeds}
    return TraceParams(
        seeds=tuple(seeds),
        seed_transactions=tuple(seed_transactions),
        **same_named(body, AS_REQUESTED),
        window_start=body.start,
        window_end=body.end,
        min_amount=body.min_amount_decimal(),
        stop_at=frozenset(stops),
        transaction_claimants=tuple(transaction_claimants),
        max_accounts=settings.trace_max_accounts,
        max_events=settings.trace_max_events,
    )


def api_summary(result: TraceResult) -> dict[str, Any]:
    engine = result.summary
    per_currency: dict[str, Any] = engine.get("currencies", {})
    primary = next(iter(sorted(per_currency)), None)
    figures = per_currency.get(primary, {}) if primary else {}
    out = {
        "currency": primary,
        "measure": engine.get("measure"),
        "taint_in": figures.get("seeded"),
        "held": figures.get("held"),
        "exited": figures.get("exited"),
        "conserved": engine.get("conserved"),
        "accounts_reached": result.accounts.height,
        "accounts_per_hop": views.hop_counts(result.accounts),
        "transactions_followed": result.flows.height,
        "exits": result.exits.height,
        "flags": result.flags.height,
        "flags_by_kind": views.flag_counts(result.flags),
        "currencies": per_currency,
        "engine": engine,
    }
    if result.provenance.engine is not None:
        # Where it ran (spark: the master and the lake manifest); the provenance keeps it too.
        out["executed_by"] = result.provenance.engine
    if result.provenance.mask is not None:
        # The transaction mask it ran under (the caller's compartments); so does the provenance.
        out["mask"] = result.provenance.mask
    return out


def _duplicate_warning(session: Session, result: TraceResult, seen: Compartments) -> dict[str, Any]:
    """A warning when transactions the trace used are undecided probable duplicates (the
    transfer may be counted twice); nothing at all otherwise, so such summaries stay as they
    were. Only matches whose two records every reader of the trace (`seen`) may see are
    counted: the count must not tell them of a record in another case. The canonical result is
    the engine's and never carries it."""
    # A Series: its ids are read only if there is any undecided match at all.
    count = duplicate_service.unresolved_among(
        session, result.flows.get_column("external_id"), seen
    )
    if not count:
        return {}
    detail = (
        f"{count} probable duplicate(s) among the transactions this trace used are undecided: "
        "a transfer reported by two sources may be counted twice (GET /api/v1/duplicates)"
    )
    return {"warnings": [{"code": "probable_duplicates", "count": count, "detail": detail}]}


@dataclass(frozen=True, slots=True)
class _Sealed:
    """A finished result as it is stored: serialised, hashed and packed, before any lock."""

    result: TraceResult
    summary: dict[str, Any]
    sha256: str
    frames: dict[str, bytes]
    # Hashed here, not under the write lock: 0.1 s for a saturated trace's 89,000 accounts.
    account_hashes: list[int]


def _seal(result: TraceResult, runtime: TraceRuntime) -> _Sealed:
    canonical = result.to_json_bytes()
    # Hashing (what result.digest() computes, without serialising the result a second time) and
    # packing the JSON take as long as writing the frames for a large result: a helper thread
    # does them meanwhile. Small results stay on this thread: a hand-off costs more than that.
    sealing = runtime.offload(results.seal_json, canonical) if len(canonical) > _OFFLOAD else None
    frames = results.to_ipc(result)
    sha256, packed = sealing.result() if sealing else results.seal_json(canonical)
    frames[results.CANONICAL_JSON] = packed
    hashes = account_hashes(result.accounts.get_column("account"))
    return _Sealed(result, api_summary(result), sha256, frames, hashes)


def _store_result(session: Session, run: TraceRun, sealed: _Sealed, runtime: TraceRuntime) -> None:
    result = sealed.result
    run.status = TraceStatus.DONE
    run.finished_at = datetime.now(UTC)
    run.progress = None  # live while it ran; a finished run answers with its summary
    reading = runtime.reads.pop(run.id, None)
    summary, frames = sealed.summary, sealed.frames
    run.result_sha256 = sealed.sha256
    # From here to the caller's commit under the filing lock (Reading.cases): `_seal`'s work
    # stays outside it, so trace completions do not queue on each other's serialising.
    read = None
    if reading is not None:
        read = reading.cases(
            session, result, transaction_service.account_keys_of, source_service.refiled_among
        )
    # Its readers see the shared pool and the cases it read (_may_see); with nothing filed in
    # any case (or on the lake, which refuses a masked trace) they see everything it read.
    seen = EVERY if read is None else Compartments(every=False, cases=frozenset(read))
    run.summary = summary | _duplicate_warning(session, result, seen)
    repository = TraceRepository(session)
    if run not in session:
        # Finished within the request: the run is inserted once, complete.
        repository.add_finished(run)
    if read is not None:
        repository.set_compartments(run.id, read)
    repository.add_frames(run.id, frames)
    repository.add_accounts(run.id, sealed.account_hashes)
    # The engine's result keeps its ledger alive: it is let go when the ledger changes.
    size = sum(len(blob) for blob in frames.values())
    runtime.remember(run.id, result, size=size, pins=result.provenance.ledger_fingerprint)


def _store_failure(run: TraceRun, exc: BaseException) -> None:
    cancelled = isinstance(exc, TraceCancelled)
    run.status = TraceStatus.CANCELLED if cancelled else TraceStatus.FAILED
    run.finished_at = datetime.now(UTC)
    run.progress = None
    code = "cancelled" if cancelled else type(exc).__name__
    run.error = {"code": code, "detail": str(exc) if isinstance(exc, TracingError) else "internal"}


def start_trace(
    session: Session,
    body: TraceCreate,
    *,
    actor: Principal,
    runtime: TraceRuntime,
    force_async: bool,
    compartments: Compartments,
    rerun_of: str | None = None,
) -> TraceRun:
    """Run a trace over the transactions `compartments` may see."""
    settings = runtime.settings
    reading_cases: list[int] = []
    # The engine runs with no transaction open: what it needs is read first, and the run is
    # written after, in a short transaction of its own.
    with reading(session):
        if body.case_id is not None:
            case_service.get_case(session, body.case_id, actor=actor)
        body = _seeds_named(session, body, compartments)
        if settings.trace_engine == "spark":
            # The lake keeps no compartments: a caller who may not see all of them is refused
            # rather than shown what they may not see (chosen over filtering the sub-ledger,
            # which would need each lake row's document).
            if filing.hides_any(session, compartments):
                raise MaskedTraceOnLake()
            # which of them it reads is not known: it is kept from whoever lacks any of them
            reading_cases = filing.filed_cases(session)
            lake, manifest = spark_engine.lake_manifest(settings)
            params = build_params(
                body,
                _lake_stop_accounts,
                lambda: spark_engine.external_stops(lake, manifest),
                settings,
            )
            fingerprint, size, refilings = manifest.id, manifest.transactions, None
            work: Work = spark_engine.work(settings, lake, params)
            force_async = True  # a search on a cluster: always a job to poll, with progress
        else:
            ledger, filed = runtime.filed_ledger(session)
            mask = runtime.mask_for(ledger, filed, compartments)
            reading_cases = [c for c in filed.cases if compartments.admits(c)]
            params = build_params(
                body,
                lambda given: _stop_accounts(given, ledger, mask),
                lambda: runtime.external_stops(ledger),
                settings,
            )
            fingerprint, size = ledger.fingerprint, ledger.n_transactions
            refilings = filed.refilings

            def work(
                report: Callable[[Progress], None], cancelled: Callable[[], bool]
            ) -> TraceResult:
                result = trace(ledger, params, progress=report, cancelled=cancelled, mask=mask)
                runtime.reads[run.id] = filing.Reading(ledger, filed, compartments)
                return result

    run = TraceRun(
        id=uuid.uuid4().hex,
        case_id=body.case_id,
        rerun_of=rerun_of,
        created_by=actor.id,
        created_at=datetime.now(UTC),
        status=TraceStatus.RUNNING,
        request=body.model_dump(mode="json"),
        params=params.to_dict(),
        engine_version=ENGINE_VERSION,
        ledger_fingerprint=fingerprint,
        ledger_transactions=size,
        refilings=refilings,
    )
    job = runtime.jobs.submit(run.id, work)
    if not force_async:
        try:
            result = job.future.result(timeout=settings.trace_sync_wait_seconds)
        except FutureTimeout:
            pass
        except TracingError:
            session.rollback()
            raise
        else:
            # Nothing was written while the engine ran: a run that finishes in time is stored
            # in one INSERT, complete, and committed before the answer.
            _store_result(session, run, _seal(result, runtime), runtime)
            session.commit()
            return run
    # Seen from every worker process: who runs it, that it is alive, how far it got.
    run.runner, run.heartbeat_at = runtime.runner, datetime.now(UTC)
    run.progress = dict(job.progress)
    TraceRepository(session).add(run)
    # While it runs, the compartments it may read; once done, those it read (_store_result).
    TraceRepository(session).set_compartments(run.id, reading_cases)
    session.commit()
    job.future.add_done_callback(lambda f: _finish_job(runtime, run.id, f))
    return run


def _finish_job(runtime: TraceRuntime, trace_id: str, future: Any) -> None:
    try:
        _store_job(runtime, trace_id, future)
    finally:
        # A run that ended without its result stored (cancelled, failed, gone) leaves what it
        # read behind otherwise, one entry per run for the life of the process.
        runtime.reads.pop(trace_id, None)


def _store_job(runtime: TraceRuntime, trace_id: str, future: Any) -> None:
    # Sealed before the write transaction begins: on SQLite its lock holds every other writer
    # off, the audit entries of reads included, and sealing a large result costs as much as
    # writing it (the JSON packing and IPC frames showed in the GIL profile of issue 23's
    # isolation run). The run is read, checked and written under the lock, as before.
    exc = future.exception()
    outcome: _Sealed | BaseException = exc if exc is not None else _seal(future.result(), runtime)
    with runtime.writer_sessions() as session:
        run = TraceRepository(session).get(trace_id)
        if run is None or run.status != TraceStatus.RUNNING:
            return
        if isinstance(outcome, BaseException):
            _store_failure(run, outcome)
        else:
            _store_result(session, run, outcome, runtime)
        session.commit()


def visible_trace(session: Session, trace_id: str, *, actor: Principal) -> TraceRun:
    """The trace if the caller may see it; to anyone else it does not exist."""
    run = TraceRepository(session).get(trace_id)
    if run is None or not _may_see(session, run, actor):
        raise TraceNotFound(trace_id)
    return run


def trace_for_case(session: Session, trace_id: str, case_id: int, *, actor: Principal) -> TraceRun:
    """A trace the caller may see whose figures may go into case `case_id`'s objects (every
    member of the case reads them): one that read no compartment but the pool's and the case's."""
    run = visible_trace(session, trace_id, actor=actor)
    check_reads_within(session, run, case_id)
    return run


def check_reads_within(session: Session, run: TraceRun, case_id: int) -> None:
    """Refuse (409) a trace that read a case's compartment other than case `case_id`'s."""
    others = [c for c in TraceRepository(session).compartments(run.id) if c != case_id]
    if others:
        raise TraceReadsOtherCompartments(run.id, case_id, others)


def caller_compartments(session: Session, actor: Principal) -> Compartments:
    """The compartments `actor` may see now (app.compartments), outside a request's dependency."""
    return compartments_of(session, actor, case_service.member_compartments)


def _may_see(session: Session, run: TraceRun, actor: Principal) -> bool:
    if not actor.sees_all_cases:
        # A trace that read a compartment the caller may not see is not theirs to see at all.
        read = TraceRepository(session).compartments(run.id)
        if read and not set(read) <= case_service.member_compartments(session, actor):
            return False
    if run.case_id is not None:
        # A case's trace is the case's evidence: it follows the case's membership, so the key
        # that ran it loses it with its membership (need to know is the case's, not the runner's).
        return case_service.may_see_case(session, run.case_id, actor=actor)
    return actor.sees_all_cases or run.created_by == actor.id


def role_thresholds(run: TraceRun) -> RoleThresholds:
    """The thresholds of the roles in the network the trace was asked for (else the defaults;
    runs stored before roles existed get the defaults too)."""
    given = (run.request or {}).get("roles")
    return RoleThresholds.model_validate(given) if given else RoleThresholds()


def trace_roles(runtime: TraceRuntime, run: TraceRun, result: TraceResult) -> list[dict[str, Any]]:
    """The roles in the network of a finished trace's accounts under its thresholds
    (`app.trace.roles.account_roles`, amounts as decimal text), cached on the runtime."""
    thresholds = role_thresholds(run)
    return runtime.roles_of(
        run.id,
        thresholds.model_dump_json(),
        lambda: roles.account_roles(result, thresholds, results.money),
    )


def summary_of(run: TraceRun) -> dict[str, Any] | None:
    """The stored summary; a run stored before flags were counted by kind gets the counts
    from its stored flags frame (read time: the run itself is never modified)."""
    summary = run.summary
    session = object_session(run)
    if summary is None or "flags_by_kind" in summary or session is None:
        return summary
    blobs = TraceRepository(session).frames(run.id, ["flags"])
    if "flags" not in blobs:
        return summary
    return {**summary, "flags_by_kind": views.flag_counts(results.stored_frame(blobs["flags"]))}


def live_progress(run: TraceRun, runtime: TraceRuntime) -> dict[str, Any] | None:
    """Progress from the job if it runs here, else as its process last wrote it."""
    job = runtime.jobs.get(run.id) if run.status == TraceStatus.RUNNING else None
    return dict(job.progress) if job is not None else run.progress


def trace_read(run: TraceRun, runtime: TraceRuntime) -> TraceRead:
    """The run as `TraceRead` shows it: its summary, and its live progress while it runs."""
    running = run.status == TraceStatus.RUNNING
    return TraceRead.model_validate(
        {
            **{c: getattr(run, c) for c in TraceRead.model_fields if hasattr(run, c)},
            "summary": summary_of(run),
            "progress": live_progress(run, runtime),
            "job": run.id if running else None,
        }
    )


def finished_result(session: Session, run: TraceRun, runtime: TraceRuntime) -> TraceResult:
    if run.status != TraceStatus.DONE:
        raise TraceNotFinished(run)
    if (cached := runtime.recall(run.id)) is not None:
        return cached
    assert run.summary is not None
    assert run.params is not None
    blobs = TraceRepository(session).frames(run.id, results.FRAME_NAMES)
    result = results.from_ipc(blobs, summary=run.summary["engine"], provenance=_provenance(run))
    runtime.remember(run.id, result, size=sum(len(b) for b in blobs.values()), pins=None)
    return result


def _provenance(run: TraceRun) -> dict[str, Any]:
    # The engine's provenance is made of exactly what the run keeps in its own columns.
    assert run.params is not None
    provenance: dict[str, Any] = {
        "rule": run.params["rule"],
        "same_day_policy": run.params["same_day_policy"],
        "params": run.params,
        "engine_version": run.engine_version,
        "ledger_fingerprint": run.ledger_fingerprint,
        "ledger_transactions": run.ledger_transactions,
    }
    if run.summary is not None and "executed_by" in run.summary:
        provenance["engine"] = run.summary["executed_by"]  # where it ran (spark: master, lake)
    if run.summary is not None and "mask" in run.summary:
        provenance["mask"] = run.summary["mask"]
    return provenance


def mask_digest(run: TraceRun) -> str | None:
    """The digest of the transaction mask a run traced under (None: every transaction)."""
    mask = (run.summary or {}).get("mask")
    return None if mask is None else str(mask["digest"])


def result_json(session: Session, run: TraceRun) -> bytes:
    """The stored canonical JSON, byte for byte: its SHA-256 is `run.result_sha256`."""
    if run.status != TraceStatus.DONE:
        raise TraceNotFinished(run)
    if run.result is not None:  # stored before the JSON was packed beside the frames
        return run.result.encode()
    packed = TraceRepository(session).frames(run.id, [results.CANONICAL_JSON])
    return results.unpack_json(packed[results.CANONICAL_JSON])


def cancel_trace(
    session: Session, trace_id: str, *, actor: Principal, runtime: TraceRuntime
) -> TraceRun:
    run = visible_trace(session, trace_id, actor=actor)
    if run.status != TraceStatus.RUNNING or runtime.jobs.cancel(run.id):
        return run
    now = datetime.now(UTC)
    if run.runner == runtime.runner:
        return run  # it ran here and has just finished
    if runtime.is_alive(run.runner, run.heartbeat_at, now):
        # Another worker process runs it: it sees the flag at its next poll and stops.
        TraceRepository(session).request_cancel(run.id, now)
    else:
        # No process runs it any more: the one that ran it is gone.
        _store_failure(run, TraceCancelled("cancelled after the service lost the job"))
    session.commit()
    return run


def mark_interrupted(session: Session, runtime: TraceRuntime) -> int:
    """Runs left 'running' by a process that is gone: say so instead of leaving them hanging.
    Those of live processes (other workers) are theirs to finish."""
    now, lost = datetime.now(UTC), 0
    for run in TraceRepository(session).running():
        if run.runner != runtime.runner and not runtime.is_alive(run.runner, run.heartbeat_at, now):
            run.status, run.finished_at, run.progress = TraceStatus.FAILED, now, None
            run.error = {"code": "interrupted", "detail": "the service stopped during the run"}
            lost += 1
    session.commit()
    return lost


def page_traces(
    session: Session,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
) -> tuple[list[TraceRun], str | None]:
    after = TRACES.decode(cursor)
    visible = case_service.visible_case_ids(session, actor=actor)
    return TraceRepository(session).page(
        limit=limit,
        after=after,
        visible_to=None if visible is None else (actor.id, visible),
        compartments=caller_compartments(session, actor),
    )


def _diff_accounts(before: TraceResult, after: TraceResult) -> dict[str, Any]:
    fields = ("received", "passed_on", "exited", "held")
    old = {(r["account"], r["currency"]): r for r in before.accounts.iter_rows(named=True)}
    new = {(r["account"], r["currency"]): r for r in after.accounts.iter_rows(named=True)}
    changed = [
        {
            "account": key[0],
            "currency": key[1],
            "field": f,
            "before": results.money(old[key][f], key[1]),
            "after": results.money(new[key][f], key[1]),
        }
        for key in sorted(old.keys() & new.keys())
        for f in fields
        if old[key][f] != new[key][f]
    ]
    return {
        "accounts_added": sorted({k[0] for k in new.keys() - old.keys()}),
        "accounts_removed": sorted({k[0] for k in old.keys() - new.keys()}),
        "amounts_changed": changed,
    }


def rerun_trace(
    session: Session,
    trace_id: str,
    *,
    actor: Principal,
    runtime: TraceRuntime,
    compartments: Compartments,
) -> dict[str, Any]:
    """Run a stored trace again over what the caller may see now; say what changed, the
    compartments it read among it."""
    with reading(session):
        previous = visible_trace(session, trace_id, actor=actor)
        read_before = TraceRepository(session).compartments(previous.id)
        before = finished_result(session, previous, runtime)
        body, seeds_renamed = _seeds_renamed(
            session, TraceCreate.model_validate(previous.request), _read_of(previous)
        )
        flows_named = before.flows.get_column("external_id")
        named = transaction_service.transactions_named_at(
            session, flows_named.unique().to_list(), _read_of(previous)
        )
        renamed = {b: n.engine_id for b, n in named.items() if b != n.engine_id}
        previous_id = previous.id
    run = start_trace(
        session,
        body,
        actor=actor,
        runtime=runtime,
        force_async=False,
        compartments=compartments,
        rerun_of=previous_id,
    )
    after = finished_result(session, run, runtime)
    read_after = TraceRepository(session).compartments(run.id)
    totals = {
        name: {"before": (previous.summary or {}).get(name), "after": (run.summary or {}).get(name)}
        for name in ("taint_in", "held", "exited", "accounts_reached")
    }
    return {
        "previous": previous.id,
        "trace": run,
        "ledger_changed": run.ledger_fingerprint != previous.ledger_fingerprint,
        "new_transactions": (run.ledger_transactions or 0) - (previous.ledger_transactions or 0),
        **_diff_accounts(before, after),
        # Records the previous run used that have left the ledger since (corrected, or
        # confirmed duplicates): the reason its figures may differ.
        "records_replaced": corrections.replaced_among(
            session, flows_named.replace(renamed) if renamed else flows_named
        ),
        "totals_changed": {k: v for k, v in totals.items() if v["before"] != v["after"]},
        # Cases whose compartments this run read and the previous did not, and the reverse
        # (membership changed, or documents were filed or refiled since).
        "compartments_added": sorted(set(read_after) - set(read_before)),
        "compartments_removed": sorted(set(read_before) - set(read_after)),
        "seeds_renamed": seeds_renamed,
        "transactions_renamed": len(renamed),
    }


def _read_of(run: TraceRun) -> LedgerRead:
    return LedgerRead(run.created_at, run.refilings)


def _seeds_renamed(
    session: Session, body: TraceCreate, read: LedgerRead
) -> tuple[TraceCreate, list[dict[str, str]]]:
    """A stored request's seed transactions by the names they bear now (an admin's refiling
    since the run's ledger was read renames them), and the renamed ones; a seed no row bore
    stays as it was."""
    given = [s.transaction for s in body.seeds if s.transaction is not None]
    if not given:
        return body, []
    named = transaction_service.transactions_named_at(session, given, read)
    now = {name: found.engine_id for name, found in named.items() if name != found.engine_id}
    if not now:
        return body, []
    seeds = [
        s.model_copy(update={"transaction": now[s.transaction]}) if s.transaction in now else s
        for s in body.seeds
    ]
    renamed = [{"before": b, "after": a} for b, a in sorted(now.items())]
    return body.model_copy(update={"seeds": seeds}), renamed


def traces_of_case(
    session: Session, case_id: int, *, limit: int, actor: Principal
) -> list[TraceRun]:
    """A case's traces that `actor` may see, newest first (the caller has checked it may see
    the case)."""
    compartments = caller_compartments(session, actor)
    return TraceRepository(session).of_case(case_id, limit=limit, compartments=compartments)


def file_traces_in_case(
    session: Session, document_id: str, received_at: datetime, case_id: int
) -> list[str]:
    """Add `case_id` to the compartments of every stored run that read a document now refiled
    into that case (in the refiling's unit of work, which commits); returns their ids.

    Which runs read the document: those whose result reached an account the document's
    transactions debit or credit, the rule a run's compartments were recorded by
    (`Filing.read_by`). Not only the runs whose flows or exits name one of its transactions: a
    replay reads every transaction of a reached account (balances, and what an account held
    before the seed), so a transaction no flow names still shaped the result. The test is on
    the account alone, whatever the currency: a superset, which hides a run from a few more
    callers rather than show one that read the case. Runs started before the document was
    received cannot have read it and keep their compartments."""
    repository = TraceRepository(session)
    # A run still going when this commits stores its compartments by the new filing (Reading).
    filing.lock_filing(session)
    account_keys = transaction_service.account_keys_of(session, document_id)
    if not account_keys:
        return []
    reading = repository.reaching(received_at, account_keys)
    # Runs stored before their reached accounts were indexed: read once from their accounts
    # frame, and indexed now. No stored accounts frame (a result kept otherwise): not known,
    # so taken as read.
    for trace_id in repository.finished_unindexed_since(received_at):
        blob = repository.frames(trace_id, [str(Frame.ACCOUNTS)]).get(str(Frame.ACCOUNTS))
        if blob is None:
            reading.add(trace_id)
            continue
        reached = results.stored_frame(blob)["account"]
        repository.add_accounts(trace_id, account_hashes(reached))
        if not account_keys.isdisjoint(reached):
            reading.add(trace_id)
    repository.add_compartment(sorted(reading), case_id)
    return sorted(reading)


def visible_documents(session: Session, ids: Iterable[str], compartments: Compartments) -> set[str]:
    """Which of the source documents `ids` `compartments` may see."""
    return TraceRepository(session).visible_documents(ids, compartments)
