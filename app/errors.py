"""The error model: every failure leaves as an RFC 9457 `application/problem+json` body."""

import math
import re
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.db import is_lock_timeout
from app.examples import example
from tracing import (
    ConservationError,
    InvalidLedger,
    InvalidTraceParams,
    SchemaMismatch,
    TraceCancelled,
    TraceTooLarge,
    TracingError,
    UnknownSeed,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("app.errors")


class AppError(Exception):
    """Base of every error a service raises; routes never build HTTP errors themselves."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class RecordNotFound(NotFound):
    """No stored record of one kind under a reference: `no <noun> with <by> <ref>`, the reference
    under the extension `key`. The same answer where the record exists but its case or
    compartment is hidden from the caller, so a 404 tells nothing of what others hold."""

    noun: ClassVar[str]
    key: ClassVar[str]
    by: ClassVar[str] = "id"

    def __init__(self, ref: int | str) -> None:
        super().__init__(f"no {self.noun} with {self.by} {ref}", **{self.key: ref})


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class InvalidInput(AppError):
    """Input that parsed but breaks a rule; `errors` lists each offending field or row."""

    status, code, title = 422, "invalid_input", "Invalid input"


class BatchRejected(InvalidInput):
    """A batch refused whole: `errors` names each row and field, and nothing was stored."""

    code, title = "batch_rejected", "Batch rejected"

    def __init__(self, errors: list[dict[str, object]], *, total: int, rows_label: str) -> None:
        super().__init__(
            f"{total} problem(s) in this batch; nothing of it was stored",
            errors=errors,
            error_count=total,
            rows=rows_label,
        )


class UnreadableQuery(AppError):
    status, code, title = 400, "unreadable_query", "Unreadable query"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValueOutOfRange(AppError):
    status, code, title = 422, "out_of_range", "Value out of range"

    def __init__(self) -> None:
        super().__init__("a number in the request is larger than any stored value can be")


class DatabaseBusy(AppError):
    status, code, title = 503, "database_busy", "Database busy"

    def __init__(self, wait: float) -> None:
        super().__init__(
            f"another write held the database for more than {wait:g} s (setting "
            "MONEYTRAIL_LOCK_WAIT_SECONDS); nothing of this request was stored: retry it later"
        )
        self.headers = {"Retry-After": str(max(1, math.ceil(wait)))}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body field path, or row number and column.")
    msg: str
    type: str
    line: int | None = Field(default=None, description="Malformed JSON: the line, from 1.")
    column: int | None = Field(default=None, description="Malformed JSON: the column, from 1.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = example(
        {
            "type": "urn:moneytrail:problem:invalid_input",
            "title": "Invalid input",
            "status": 422,
            "detail": "1 row rejected; nothing of this batch was stored",
            "instance": "/api/v1/transactions/batch",
            "code": "invalid_input",
            "request_id": "5f0c6c1e9a2b4f4e8d7c6b5a49382716",
            "errors": [
                {"loc": ["transactions", 0, "amount"], "msg": "must be > 0", "type": "value"}
            ],
        },
        extra="allow",
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
# FastAPI's own validation schemas: its 422 is answered as a Problem here, so they name nothing.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problems a route can answer (`conform_problems`
    then makes every error response of the document say what the handlers send)."""
    always = (401, 500, 503)
    return {
        status: {
            # The model registers the Problem schema; its media type is set by conform_problems.
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": dict(_PROBLEM_CONTENT),
        }
        for status in sorted({*statuses, *always})
    }


def conform_problems(document: dict[str, Any]) -> None:
    """Make the document say what the handlers above answer, on every operation.

    Every 4xx and 5xx is `application/problem+json` and nothing else: FastAPI documents the
    `model` of a response under the route's own media type (JSON, CSV ...) and adds its own 422
    as `application/json`. A body the server cannot decode (not UTF-8, broken multipart) is
    answered 400 before validation, so an operation that takes a body documents 400; so does
    one with query parameters, whose percent-escapes must decode as UTF-8 (`query_is_utf8`).
    """
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            queried = any(p.get("in") == "query" for p in operation.get("parameters", []))
            if ("requestBody" in operation or queried) and "400" not in responses:
                responses["400"] = {"description": HTTPStatus(400).phrase}
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = dict(_PROBLEM_CONTENT)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)


def install_problem_document(app: FastAPI) -> None:
    """Apply `conform_problems` to the document the app serves and `app.openapi` writes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            conform_problems(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def request_id_of(request: Request) -> str | None:
    state = request.scope.get("state") or {}
    rid = state.get("request_id")
    return rid if isinstance(rid, str) else None


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extensions: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": f"urn:moneytrail:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "request_id": request_id_of(request),
        **(extensions or {}),
    }
    all_headers = dict(headers or {})
    if (rid := request_id_of(request)) is not None:
        all_headers["X-Request-ID"] = rid
    return JSONResponse(
        jsonable_encoder(body),
        status_code=status,
        headers=all_headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _render(request: Request, exc: AppError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        extensions=exc.extensions,
        headers=exc.headers,
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _render(request, exc)


def _field_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    return [
        _json_syntax_error(err, exc.body)
        if err.get("type") == "json_invalid"
        else {
            "loc": list(err.get("loc", ())),
            "msg": _number_for_text(err) or str(err.get("msg", "")),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def _number_for_text(err: dict[str, Any]) -> str | None:
    """What to do about a JSON number where text is expected: amounts are decimal strings."""
    value = err.get("input")
    if err.get("type") != "string_type" or isinstance(value, bool):
        return None
    if not isinstance(value, int | float):
        return None
    return (
        f"a JSON number ({value!r}) where a string is expected: send it in quotes; an amount "
        'as a decimal string such as "1500.50" (a number may be read as a float, which cannot '
        "hold money exactly)"
    )


def _json_syntax_error(err: dict[str, Any], body: Any) -> dict[str, object]:
    """Malformed JSON by line and column, as an editor shows them (FastAPI gives a character
    offset into the body, `body.38`, which nobody can find by eye)."""
    loc = list(err.get("loc", ()))
    reason = str((err.get("ctx") or {}).get("error", "JSON decode error"))
    offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if offset is None or not isinstance(text, str):
        return {"loc": ["body"], "msg": f"malformed JSON: {reason}", "type": "json_invalid"}
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return {
        "loc": ["body"],
        "msg": f"malformed JSON at line {line}, column {column}: {reason}",
        "type": "json_invalid",
        "line": line,
        "column": column,
    }


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:5])  # type: ignore[attr-defined]
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Request validation failed",
        detail=f"{len(errors)} invalid field(s): {fields}",
        extensions={"errors": errors},
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    428: "precondition_required",
}


_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def _documented_paths(app: FastAPI) -> list[tuple[re.Pattern[str], list[str]]]:
    """The document's paths as patterns, literal ones first (`/accounts/batch` before
    `/accounts/{account}`), each with its methods."""
    if (found := getattr(app.state, "documented_paths", None)) is None:
        paths = app.openapi()["paths"]
        ordered = sorted(paths, key=lambda p: (p.count("{"), -len(p)))
        found = [
            (
                re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))),
                sorted(m.upper() for m in paths[path]),
            )
            for path in ordered
        ]
        app.state.documented_paths = found
    return found


def _allowed_methods(request: Request) -> str:
    """The methods of the path, as the document names them: the router's 405 names only the
    first route it tried, and a path's methods are served by one route each."""
    path = request.scope["path"]
    for pattern, methods in _documented_paths(request.app):
        if pattern.fullmatch(path):
            return ", ".join(methods)
    routes = request.app.router.routes  # not in the document (the docs' own pages)
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, AppError):
        # FastAPI answers 400 to whatever fails while it reads the body, a bound that stopped
        # the reading (BodyLimitMiddleware) included: the bound's own answer is the true one.
        return await _app_error(request, exc.__cause__)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        headers["Allow"] = allowed
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=HTTPStatus(exc.status_code).phrase,
        detail=detail,
        headers=headers,
    )


def _out_of_range(exc: Exception) -> bool:
    # An id or number no column can hold (SQLite's 64-bit INTEGER, PostgreSQL's BIGINT): the
    # record cannot exist, so the request is wrong, not the server.
    if isinstance(exc, DataError):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if _out_of_range(exc) or isinstance(exc, OverflowError):
        return _render(request, ValueOutOfRange())
    return await _unhandled(request, exc)


def _database_busy(request: Request) -> JSONResponse:
    settings = getattr(request.app.state, "settings", None)
    wait = getattr(settings, "lock_wait_seconds", 5.0)
    log.warning("database_busy", request_id=request_id_of(request), path=request.url.path)
    return _render(request, DatabaseBusy(wait))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if is_lock_timeout(exc):
        return _database_busy(request)
    # The trace goes to the log under the request id, never to the client.
    log.exception("unhandled_error", request_id=request_id_of(request), path=request.url.path)
    return _render(
        request,
        AppError("The server could not complete the request; quote the request id to an operator."),
    )


# The one place where the engine's errors meet HTTP: tracing itself never knows about it.
TRACING_STATUS: dict[type[TracingError], tuple[int, str, str]] = {
    InvalidTraceParams: (422, "invalid_trace_params", "Invalid trace parameters"),
    SchemaMismatch: (422, "schema_mismatch", "Ledger schema mismatch"),
    InvalidLedger: (422, "invalid_ledger", "Invalid ledger"),
    UnknownSeed: (404, "unknown_seed", "Unknown seed or account"),
    TraceTooLarge: (422, "trace_too_large", "Trace too large"),
    TraceCancelled: (409, "trace_cancelled", "Trace cancelled"),
    ConservationError: (500, "conservation_error", "Conservation check failed"),
}


async def _tracing_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TracingError)
    status, code, title = next(
        (TRACING_STATUS[k] for k in type(exc).__mro__ if k in TRACING_STATUS),
        (500, "internal_error", "Internal error"),
    )
    if status >= 500:
        log.error("tracing_error", request_id=request_id_of(request), error=str(exc))
        return problem_response(
            request,
            status=status,
            code=code,
            title=title,
            detail="The engine refused its own result; quote the request id.",
        )
    return problem_response(request, status=status, code=code, title=title, detail=str(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(TracingError, _tracing_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StatementError, _database_error)
    app.add_exception_handler(OverflowError, _database_error)
    app.add_exception_handler(Exception, _unhandled)
