from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


class TraceRun(Base):
    """One run of the engine. Once finished it is never modified: it may be shown in court."""

    __tablename__ = "trace_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cases.id"), index=True)
    rerun_of: Mapped[str | None] = mapped_column(ForeignKey("trace_runs.id"))
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    # The request as given (keys, decimals as strings) and as the engine understood it.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    engine_version: Mapped[str | None] = mapped_column(String(40))
    ledger_fingerprint: Mapped[str | None] = mapped_column(String(64))
    ledger_transactions: Mapped[int | None] = mapped_column(BigInteger)
    # How many refilings the ledger had seen when read (`Filing.refilings`): those recorded
    # after them renamed rows since (`transactions_named_at`). None: a lake run, or stored
    # before it was kept (then the start time tells).
    refilings: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # While it runs: the process running it, its last sign of life, and a cancellation asked
    # for through any process (the runner polls it), so several worker processes share jobs.
    runner: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The SHA-256 of the engine's canonical JSON. The JSON itself, byte for byte, is kept
    # LZ4-packed beside the frames (`app.trace.results.pack_json`); runs stored before that kept
    # it as text here. Megabytes for a large trace: loaded only when read.
    result: Mapped[str | None] = mapped_column(Text, deferred=True)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TraceResultFrame(Base):
    """The result's frames in Arrow IPC form, so reading and explaining need no re-run, and the
    canonical JSON (`canonical_json`), also packed as Arrow IPC."""

    __tablename__ = "trace_result_frames"

    trace_id: Mapped[str] = mapped_column(ForeignKey("trace_runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TraceRunCompartment(Base):
    """A case whose compartment a trace read (a transaction of a document filed in that case):
    whoever may not see that compartment does not see the trace. None: the shared pool alone.

    While a job runs, its rows are the caller's compartments it might read; once it is done,
    those it did read."""

    __tablename__ = "trace_run_compartments"

    trace_id: Mapped[str] = mapped_column(ForeignKey("trace_runs.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), primary_key=True)


class TraceRunAccount(Base):
    """An account a stored trace reached (its accounts frame), by a 64-bit hash of its key
    (`account_hash`): what tells, when a document is refiled into a case, which traces read it
    (`service.file_traces_in_case`). A hash is all that question needs, and a trace's rows are
    written in one statement; two keys of one hash hide a run from a few more callers."""

    __tablename__ = "trace_run_accounts"

    trace_id: Mapped[str] = mapped_column(ForeignKey("trace_runs.id"), primary_key=True)
    account_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
