"""The hash chain: each entry's hash covers its fields and its predecessor's hash."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

GENESIS = "0" * 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = (
    "at",
    "key_id",
    "role",
    "operation",
    "method",
    "path",
    "resource",
    "case_id",
    "outcome",
    "request_id",
    "body_sha256",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(
        [prev_hash, *(_canonical(fields[name]) for name in FIELDS)],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# A checkpoint signs these four lines, after the body of a C2SP tlog-checkpoint (origin, size,
# root hash) and Certificate Transparency's signed tree head (size, hash, millisecond
# timestamp). The head hash commits to every entry before it, as a Merkle root would; a
# verifier replays the chain to that length and compares.
CHECKPOINT_ORIGIN = "moneytrail audit trail"


def checkpoint_statement(entries: int, head_hash: str, timestamp_ms: int) -> bytes:
    return f"{CHECKPOINT_ORIGIN}\n{entries}\n{head_hash}\n{timestamp_ms}\n".encode()


def milliseconds(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def from_milliseconds(timestamp_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=timestamp_ms)
