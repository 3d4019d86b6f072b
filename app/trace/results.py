"""Stored trace results: the engine's frames kept as Arrow IPC and rebuilt without a re-run."""

import hashlib
import io
from decimal import Decimal
from typing import Any

import polars as pl

from app.money import currency_decimals, decimal_text
from tracing import PASSED_ON_COUNTS_EXITS, Frame, Provenance, TraceResult

# Every frame a result carries, including the two explain() reads.
FRAME_NAMES = tuple(str(name) for name in Frame)
# Stored beside the frames: the canonical JSON, byte for byte (see `pack_json`).
CANONICAL_JSON = "canonical_json"
_IPC_FILE_MAGIC = b"ARROW1"


def stored_frame(blob: bytes) -> pl.DataFrame:
    # Runs stored before the stream format kept Arrow IPC files; both read back the same.
    if blob.startswith(_IPC_FILE_MAGIC):
        return pl.read_ipc(io.BytesIO(blob))
    return pl.read_ipc_stream(io.BytesIO(blob))


def _passed_on_without_exits(accounts: pl.DataFrame, exits: pl.DataFrame) -> pl.DataFrame:
    """An older engine's accounts in today's words: its `passed_on` counted the withdrawals
    that exited too. Read time only; the stored frames and canonical JSON stay as they were."""
    spent = (
        exits.filter(pl.col("reason") != "overdraft")
        .group_by("from_account", "currency")
        .agg(pl.col("traced").sum().alias("_spent"))
        .rename({"from_account": "account"})
    )
    dtype = accounts.schema["passed_on"]
    return (
        accounts.join(spent, on=["account", "currency"], how="left", maintain_order="left")
        .with_columns(
            (pl.col("passed_on") - pl.col("_spent").fill_null(0)).cast(dtype).alias("passed_on")
        )
        .drop("_spent")
    )


def to_ipc(result: TraceResult) -> dict[str, bytes]:
    out = {}
    for name, frame in result.to_frames().items():
        buffer = io.BytesIO()
        # The IPC stream format, not the file format: `write_ipc` goes through a streaming sink
        # with a fixed cost per frame, even for ten rows, that the stream writer does not have.
        # LZ4, not zstd: it writes a result of thousands of accounts faster (measured in
        # benchmarks/API_TRACE_RESULTS.md).
        frame.write_ipc_stream(buffer, compression="lz4")
        out[str(name)] = buffer.getvalue()
    return out


def pack_json(canonical: bytes) -> bytes:
    """The canonical JSON as one binary cell of a zstd-compressed Arrow IPC stream.

    The bytes come back unchanged (`unpack_json`, which also reads the LZ4 streams of older
    runs). zstd packs as fast as LZ4 here, to about half of LZ4's size: fewer bytes to write on
    PostgreSQL, and SQLite's WAL further from a checkpoint. Stored uncompressed it cost more on
    both databases (benchmarks/API_TRACE_RESULTS.md).
    """
    buffer = io.BytesIO()
    frame = pl.DataFrame({"json": [canonical]}, schema={"json": pl.Binary()})
    frame.write_ipc_stream(buffer, compression="zstd")
    return buffer.getvalue()


def seal_json(canonical: bytes) -> tuple[str, bytes]:
    """The SHA-256 of the canonical JSON (what `TraceResult.digest()` gives) and its packed form.

    Touches the bytes only, never a frame, so it can run on another thread while the frames are
    written: Polars frames must not be used from two threads at once.
    """
    return hashlib.sha256(canonical).hexdigest(), pack_json(canonical)


def unpack_json(blob: bytes) -> bytes:
    value = pl.read_ipc_stream(io.BytesIO(blob))["json"][0]
    assert isinstance(value, bytes)
    return value


def from_ipc(
    blobs: dict[str, bytes], *, summary: dict[str, Any], provenance: dict[str, Any]
) -> TraceResult:
    frames: dict[Frame, Any] = {
        name: (lambda blob=blobs[name]: stored_frame(blob)) for name in Frame if name in blobs
    }
    if provenance["engine_version"] in PASSED_ON_COUNTS_EXITS:
        frames[Frame.ACCOUNTS] = lambda: _passed_on_without_exits(
            stored_frame(blobs[Frame.ACCOUNTS]), stored_frame(blobs[Frame.EXITS])
        )
    return TraceResult.from_frames(
        frames,
        summary=summary,
        provenance=Provenance(**provenance),
        decimals=currency_decimals(),
    )


def money(value: Decimal | None, currency: str) -> str | None:
    """The engine's decimal in the currency's own decimals (exact: it counts minor units)."""
    return None if value is None else decimal_text(value, currency)


def rows(frame: pl.DataFrame, amounts: tuple[str, ...]) -> list[dict[str, Any]]:
    out = frame.to_dicts()
    for row in out:
        for name in amounts:
            row[name] = money(row[name], row["currency"])
    return out
