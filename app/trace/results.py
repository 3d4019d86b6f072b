"""Stored trace results: the engine's frames kept as Arrow IPC and rebuilt without a re-run."""

import io
from decimal import Decimal
from typing import Any

import polars as pl

from app.money import decimals_of
from tracing import Provenance, TraceResult

# Every frame a result carries, including those the engine keeps private for explain().
FRAME_NAMES = ("accounts", "flows", "exits", "flags", "ranks", "seeds")


class _StoredParts:
    """The engine's `Parts` protocol over frames read back from storage."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self._blobs = blobs

    def frame(self, name: str) -> pl.DataFrame:
        return pl.read_ipc(io.BytesIO(self._blobs[name]))


def to_ipc(result: TraceResult) -> dict[str, bytes]:
    out = {}
    for name in FRAME_NAMES:
        buffer = io.BytesIO()
        frame: pl.DataFrame = getattr(
            result, name if name in ("accounts", "flows", "exits", "flags") else f"_{name}"
        )
        # LZ4, not zstd: the frames are written inside the request that runs the trace, and
        # LZ4 writes a 10,000-account result about three times faster for half the ratio.
        frame.write_ipc(buffer, compression="lz4")
        out[name] = buffer.getvalue()
    return out


def from_ipc(
    blobs: dict[str, bytes], *, summary: dict[str, Any], provenance: dict[str, Any]
) -> TraceResult:
    return TraceResult(
        summary=summary, provenance=Provenance(**provenance), _parts=_StoredParts(blobs)
    )


def money(value: Decimal | None, currency: str) -> str | None:
    """The engine's decimal in the currency's own decimals (exact: it counts minor units)."""
    if value is None:
        return None
    places = decimals_of(currency)
    return str(value.quantize(Decimal(1).scaleb(-(places if places is not None else 2))))


def rows(frame: pl.DataFrame, amounts: tuple[str, ...]) -> list[dict[str, Any]]:
    out = frame.to_dicts()
    for row in out:
        for name in amounts:
            row[name] = money(row[name], row["currency"])
    return out
