"""Headers that keep every page on the service: FIU networks are often air-gapped.

The vendored ReDoc bundle still names an image on its vendor's CDN; the content security policy
makes the browser refuse any such request before it leaves, whatever a bundle asks for.
"""

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_MEDIA_TYPE, PayloadTooLarge
from app.limits import setting_name

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_FRAMING = 1024 * 1024
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class ResponseHeadersMiddleware:
    """Adds the same headers to every HTTP response."""

    def __init__(self, app: ASGIApp, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = list(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecurityHeadersMiddleware(ResponseHeadersMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, HEADERS)


class BodyLimitMiddleware:
    """Refuses request bodies over their bound: at once when declared, else when reached.

    Files come as multipart forms, streamed to disk, and may be as large as `upload_limit`. Any
    other body (JSON) is held and parsed whole in memory, so it is bound by `json_limit`.
    """

    def __init__(self, app: ASGIApp, *, upload_limit: int, json_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.json_limit = json_limit

    def _bound(self, scope: Scope) -> tuple[int, str]:
        content_type = dict(scope["headers"]).get(b"content-type", b"").lower()
        if content_type.startswith(b"multipart/form-data"):
            # the form's own framing comes on top of the file
            return self.upload_limit + _FRAMING, "upload_max_bytes"
        return self.json_limit, "json_body_max_bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, field = self._bound(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit, field)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(
                    _detail(limit, field), limit=limit, setting=setting_name(field)
                )
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, send: Send, limit: int, field: str) -> None:
        body = json.dumps(
            {
                "type": "urn:moneytrail:problem:payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "detail": _detail(limit, field),
                "instance": scope["path"],
                "code": "payload_too_large",
                "limit": limit,
                "setting": setting_name(field),
                "request_id": (scope.get("state") or {}).get("request_id"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _detail(limit: int, field: str) -> str:
    return f"the request body exceeds {limit} bytes (setting {setting_name(field)})"
