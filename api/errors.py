"""RFC 9457 problem details for every error: validation, domain, HTTP and unexpected ones.

Validation problems list every failing field (``errors[].field`` as a dotted path and
``errors[].reason``). A 500 carries the request id and nothing of the stack trace.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from risk_engine.errors import DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("risk_engine.api")

_TITLES = {
    400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Request body too large",
    415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests", 500: "Internal error",
}


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://risk-engine.local/problems/{code or status}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    if request is not None:
        body["instance"] = request.url.path
        rid = getattr(request.state, "request_id", None)
        if rid:
            body["request_id"] = rid
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def domain_problem(exc: DomainError, request: Request | None = None) -> JSONResponse:
    """The problem+json answer to a domain error, as the app's handler gives it."""
    extra = dict(exc.extra)  # a domain error naming several fields brings its own errors[]
    errors = extra.pop("errors", None) or (
        [{"field": exc.field, "reason": exc.detail, "type": exc.code}] if exc.field else None)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(exc.status, exc.detail, title=exc.title, code=exc.code, errors=errors,
                            request=request, headers=headers, **extra)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _validation_errors(exc: RequestValidationError) -> tuple[int, str, list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    malformed = False
    for err in exc.errors():
        kind = err.get("type", "")
        loc = err.get("loc", ())
        if kind == "json_invalid":
            malformed = True
            ctx = err.get("ctx") or {}
            reason = f"malformed JSON: {ctx.get('error', 'cannot parse')}"
            errors.append({"field": "body", "reason": reason, "type": kind})
            continue
        reason = err.get("msg", "invalid")
        if kind == "extra_forbidden":
            reason = "unknown field"
        elif kind == "missing":
            reason = "field required"
        errors.append({"field": _field_path(loc), "reason": reason, "type": kind})
    if malformed:
        return 400, "the request body is not valid JSON", errors
    fields = ", ".join(e["field"] for e in errors)
    return 422, f"invalid input: {fields}", errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, errors = _validation_errors(exc)
        return problem_response(status, detail, code="validation_failed" if status == 422 else "malformed_json",
                                errors=errors, request=request)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's words
            # e.g. a body that is not UTF-8: as unreadable as malformed JSON, and answered the same way
            return problem_response(400, "the request body is not valid JSON text (UTF-8)", code="malformed_json",
                                    errors=[{"field": "body", "reason": "not valid JSON text in UTF-8",
                                             "type": "json_invalid"}], request=request)
        return problem_response(exc.status_code, detail, request=request, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, "an internal error occurred; quote the request_id to support",
                                code="internal_error", request=request)
