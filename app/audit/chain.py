"""The hash chain: each entry's hash covers its fields and its predecessor's hash."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
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
