"""Domain errors. Raised by pure decision code and services; the API maps them to RFC 9457 problems.

Each error carries a stable machine-readable ``code``, a human ``detail`` and, where one input is to
blame, the ``field`` that failed (dotted path, e.g. ``"body.amount"`` or ``"credit_code"``).
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 422
    title: str = "Unprocessable request"
    default_code: str = "unprocessable"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code or self.default_code
        self.extra = extra or {}


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    default_code = "invalid_input"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    default_code = "not_found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    default_code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    title = "Forbidden"
    default_code = "forbidden"


class IllegalTransition(Conflict):
    title = "Illegal state transition"
    default_code = "illegal_transition"
