"""The OpenAPI document as the API behaves: errors are RFC 9457 problem details.

FastAPI describes every 422 as its own ``HTTPValidationError`` (``detail[]``), which the engine never sends:
its handlers (``api.errors``) answer every error, validation included, as ``application/problem+json``
with ``errors[]`` naming each failing field. ``install(app)`` rewrites the generated document once so a
client generated from it expects what it gets: a ``Problem`` schema, each 422 and a ``default`` response
described with it, and FastAPI's unused validation schemas left out.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details. `code` is a stable machine-readable reason; `errors` names each "
                   "failing field (`body.amount`, `query.after_seq`, `Idempotency-Key`...).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["validation_failed", "consent_missing", "bank_quota_exceeded"]},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"},
                               "type": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def problem_details(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its error responses described as problem details (changed in place, returned)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses")
            if not isinstance(responses, dict):
                continue
            if "422" in responses:
                responses["422"] = {"description": "Validation failed: `errors[]` names each field and why",
                                    **_PROBLEM}
            responses.setdefault("default", {
                "description": "Any other error (401, 403, 404, 409, 413, 503...) as problem details", **_PROBLEM})
    return document


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_details(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
