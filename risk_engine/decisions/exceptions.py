"""Errors of the decision core beyond the shared domain errors."""

from __future__ import annotations

from risk_engine.errors import DomainError


class ModelUnavailable(DomainError):
    """No champion model or no feature source to score with: the service cannot decide now (503)."""

    status = 503
    title = "Scoring unavailable"
    default_code = "model_unavailable"
