"""Stored trace results: frames written by older runs still read back; the JSON packs losslessly."""

import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from app.trace import results

FRAME = pl.DataFrame(
    {
        "account": ["iban:DE89370400440532013000", "btc:bc1qxyz"],
        "amount": [Decimal("12.34"), Decimal("-0.50")],
        "at": [datetime(2026, 1, 5, tzinfo=UTC), None],
    },
    schema_overrides={"amount": pl.Decimal(38, 2)},
)


def _blob(write: str) -> bytes:
    buffer = io.BytesIO()
    getattr(FRAME, write)(buffer, compression="lz4")
    return buffer.getvalue()


def test_frames_stored_as_ipc_files_or_streams_read_back_equal() -> None:
    assert results.stored_frame(_blob("write_ipc")).equals(FRAME)
    assert results.stored_frame(_blob("write_ipc_stream")).equals(FRAME)


def test_the_canonical_json_packs_and_unpacks_byte_for_byte() -> None:
    canonical = '{"accounts":[{"account":"iban:DE89…","held":"1.00"}],"z":"ü\\u0000"}'.encode()
    assert results.unpack_json(results.pack_json(canonical)) == canonical
    assert results.unpack_json(results.pack_json(b"")) == b""


def test_json_packed_with_lz4_by_older_runs_still_unpacks() -> None:
    canonical = b'{"accounts":[],"flows":[]}'
    buffer = io.BytesIO()
    pl.DataFrame({"json": [canonical]}, schema={"json": pl.Binary()}).write_ipc_stream(
        buffer, compression="lz4"
    )
    assert results.unpack_json(buffer.getvalue()) == canonical


def test_sealing_gives_the_digest_and_the_packed_json() -> None:
    canonical = b'{"accounts":[],"flows":[]}'
    digest, packed = results.seal_json(canonical)
    assert digest == hashlib.sha256(canonical).hexdigest()
    assert results.unpack_json(packed) == canonical
