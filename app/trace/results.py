"""Stored trace results: the engine's frames kept as Arrow IPC and rebuilt without a re-run."""

import dataclasses
import io
from decimal import Decimal
from typing import Any

import polars as pl

from app.money import decimals_of
from tracing import Provenance, TraceResult


def _frame_fields() -> list[str]:
    # Every frame the result carries, including those the engine keeps for explain().
    return [
        f.name for f in dataclasses.fields(TraceResult) if f.name not in ("summary", "provenance")
    ]


def to_ipc(result: TraceResult) -> dict[str, bytes]:
    out = {}
    for name in _frame_fields():
        buffer = io.BytesIO()
        frame: pl.DataFrame = getattr(result, name)
        frame.write_ipc(buffer, compression="zstd")
        out[name] = buffer.getvalue()
    return out


def from_ipc(
    blobs: dict[str, bytes], *, summary: dict[str, Any], provenance: dict[str, Any]
) -> TraceResult:
    frames = {name: pl.read_ipc(io.BytesIO(blobs[name])) for name in _frame_fields()}
    return TraceResult(summary=summary, provenance=Provenance(**provenance), **frames)


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
