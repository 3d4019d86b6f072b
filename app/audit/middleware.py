"""Every request leaves an audit entry: who, what, which resource, the outcome, a digest.

A change writes its entry in its own transaction (see `app.audit.request`). Any other request's
entry is written when the answer starts, before the client sees it, or when the request fails
before it could answer (the 500 that Starlette's outermost error middleware then sends), by a
sink the app holds (`app.state.audit_sink`): in production the group writer of
`app.audit.writer`, which chains and commits the entries of many requests at once. Requests
refused before routing (a body over the limit, an unknown path) are entries too; only the
probes and the API documentation, which carry no data, are not.
"""

from collections.abc import Callable
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.audit.request import STATE_KEY, RequestAudit

AuditSink = Callable[[dict[str, Any]], None]
UNAUDITED = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc"})
UNAUDITED_PREFIXES = ("/openapi.json", "/static/")
log = structlog.get_logger("app.audit")


def audited(path: str) -> bool:
    return path not in UNAUDITED and not path.startswith(UNAUDITED_PREFIXES)


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not audited(scope["path"]):
            await self.app(scope, receive, send)
            return
        audit = RequestAudit(scope)
        scope.setdefault("state", {})[STATE_KEY] = audit
        answered = False

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                audit.received(message.get("body", b""))
            return message

        async def auditing_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                await self._settle(scope, audit, message["status"])
            await send(message)

        try:
            await self.app(scope, hashing_receive, auditing_send)
        except Exception:
            if not answered:
                await self._settle_failure(scope, audit)
            raise
        if not answered:  # the server answers 500 to an application that returns silently
            await self._settle_failure(scope, audit)

    @staticmethod
    async def _settle(scope: Scope, audit: RequestAudit, status: int) -> None:
        if audit.committed_outcome == status:
            return  # the entry committed with the change says it already
        sink: AuditSink = scope["app"].state.audit_sink
        write = getattr(sink, "write", None)
        if write is not None:  # the group writer: awaited here, no worker thread held meanwhile
            await write(audit.fields(status))
        else:
            await run_in_threadpool(sink, audit.fields(status))

    @classmethod
    async def _settle_failure(cls, scope: Scope, audit: RequestAudit) -> None:
        try:
            await cls._settle(scope, audit, 500)
        except Exception:
            # The request's own error is the one to report; this one is logged beside it.
            log.exception("audit_entry_failed", request_id=audit.fields(500)["request_id"])
