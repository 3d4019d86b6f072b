"""Every API request leaves an audit entry: who, what, which resource, the outcome, a digest.

The entry is written when the response starts, before the client sees it, by a sink the app
holds (`app.state.audit_sink`): a hash-chained table in production.
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.inputs import storable

AuditSink = Callable[[dict[str, Any]], None]
AUDITED_PREFIX = "/api/"


def _resource(path_params: dict[str, Any]) -> str | None:
    if not path_params:
        return None
    return storable(",".join(f"{k}={v}" for k, v in sorted(path_params.items())))[:300]


def _case_id(path_params: dict[str, Any]) -> int | None:
    value = str(path_params.get("case_id", ""))
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIX):
            await self.app(scope, receive, send)
            return
        digest = hashlib.sha256()
        received = False

        async def hashing_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received = True
                digest.update(message.get("body", b""))
            return message

        async def auditing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                await run_in_threadpool(
                    self._record, scope, message["status"], digest.hexdigest() if received else None
                )
            await send(message)

        await self.app(scope, hashing_receive, auditing_send)

    @staticmethod
    def _record(scope: Scope, status: int, body_sha256: str | None) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        route = scope.get("route")
        params = scope.get("path_params") or {}
        sink: AuditSink = scope["app"].state.audit_sink
        sink(
            {
                "at": datetime.now(UTC),
                "key_id": getattr(principal, "id", None),
                "role": str(principal.role) if principal is not None else None,
                "operation": getattr(route, "name", None) or "unmatched",
                "method": scope["method"],
                "path": storable(scope["path"])[:2000],
                "resource": _resource(params),
                "case_id": _case_id(params),
                "outcome": status,
                "request_id": str(state.get("request_id", "")),
                "body_sha256": body_sha256,
            }
        )
