"""What the audit trail knows about one request while it is being served.

The middleware opens a `RequestAudit` when a request arrives and keeps it in the request's
state. A change the request commits writes its entry inside the same transaction
(`app.audit.service.record_with_commits`); the middleware writes the entry of every other
request when its answer starts, and a second one when the answer differs from the status the
committed entry announced.
"""

import hashlib
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

from app.inputs import id_in

STATE_KEY = "audit"


def _text(value: str, limit: int) -> str:
    # Whatever a client put in its path is kept, but written so every database can store it:
    # PostgreSQL refuses NUL in text, and no database encodes a lone surrogate.
    safe = value.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")
    return safe[:limit]


def _resource(path_params: dict[str, Any]) -> str | None:
    if not path_params:
        return None
    return _text(",".join(f"{k}={v}" for k, v in sorted(path_params.items())), 300)


def _case_id(path_params: dict[str, Any]) -> int | None:
    return id_in(str(path_params.get("case_id", "")))


class RequestAudit:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._digest = hashlib.sha256()
        self._received = False
        # The status the entry committed with a change announced; None while none is.
        self.committed_outcome: int | None = None

    @staticmethod
    def of(scope: Scope) -> "RequestAudit | None":
        found = (scope.get("state") or {}).get(STATE_KEY)
        return found if isinstance(found, RequestAudit) else None

    def received(self, body: bytes) -> None:
        self._received = True
        self._digest.update(body)

    def success_status(self) -> int:
        """The status the matched route answers when it succeeds (FastAPI's default: 200)."""
        return getattr(self.scope.get("route"), "status_code", None) or 200

    def fields(self, outcome: int) -> dict[str, Any]:
        scope = self.scope
        state = scope.get("state") or {}
        principal = state.get("principal")
        params = scope.get("path_params") or {}
        return {
            "at": datetime.now(UTC),
            "key_id": getattr(principal, "id", None),
            "role": str(principal.role) if principal is not None else None,
            "operation": getattr(scope.get("route"), "name", None) or "unmatched",
            "method": _text(scope["method"], 10),
            "path": _text(scope["path"], 2000),
            "resource": _resource(params),
            "case_id": _case_id(params),
            "outcome": outcome,
            "request_id": str(state.get("request_id", "")),
            "body_sha256": self._digest.hexdigest() if self._received else None,
        }
