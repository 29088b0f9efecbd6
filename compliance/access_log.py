"""The access log: who read personal data or pulled a signed report, when, and what (PIPL Art. 51).

Written in the caller's transaction (flush, never commit). A READ is logged, so the route that serves
it commits even though it changes nothing else. A REFUSED access (another bank's report: 404) is
logged too: the route must commit the log entry before raising, or the request's rollback drops it::

    try:
        report = reports_service.for_bank(session, decision_id, principal)
    except NotFound:
        log_access(session, principal, "decision.report.read", "decision", decision_id,
                   {"reason": "not visible to this bank"}, outcome="denied", path=request.url.path)
        session.commit()
        raise

The ``detail`` never carries personal data: ids, purposes and reasons only.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.audit import canonical_json
from compliance.models import ACCESS_OUTCOMES, AccessLogEntry
from risk_engine.db import utcnow
from risk_engine.errors import InvalidInput

MAX_PAGE = 1000


class Accessor(Protocol):
    """Anything that says who is calling: ``api.auth.Principal`` fits."""

    client_id: str
    role: str


def log_access(
    session: Session,
    principal: Accessor,
    action: str,
    subject_type: str,
    subject_id: str,
    detail: dict[str, Any] | str | None = None,
    *,
    outcome: str = "granted",
    purpose: str | None = None,
    path: str | None = None,
) -> AccessLogEntry:
    """Record one access in the caller's transaction. ``action`` like ``dealer.pii.read``,
    ``dealer.export``, ``decision.report.read``; ``outcome`` granted, denied or not_found."""
    if outcome not in ACCESS_OUTCOMES:
        raise ValueError(f"outcome must be one of {ACCESS_OUTCOMES}")
    if isinstance(detail, str):
        detail = {"note": detail}
    entry = AccessLogEntry(
        accessed_at=utcnow(),
        client_id=principal.client_id,
        role=principal.role,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        outcome=outcome,
        purpose=purpose,
        path=path,
        detail=canonical_json(detail or {}),
    )
    session.add(entry)
    session.flush()
    return entry


def entry_view(entry: AccessLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "accessed_at": entry.accessed_at,
        "client_id": entry.client_id,
        "role": entry.role,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "outcome": entry.outcome,
        "purpose": entry.purpose,
        "path": entry.path,
        "detail": json.loads(entry.detail or "{}"),
    }


def search(
    session: Session,
    *,
    client_id: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[AccessLogEntry], int | None]:
    """Entries oldest first, filtered; returns the page and the cursor (``after``) of the next one."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: must be between 1 and {MAX_PAGE}", field="limit")
    statement = select(AccessLogEntry).order_by(AccessLogEntry.id).limit(limit + 1)
    if client_id is not None:
        statement = statement.where(AccessLogEntry.client_id == client_id)
    if subject_type is not None:
        statement = statement.where(AccessLogEntry.subject_type == subject_type)
    if subject_id is not None:
        statement = statement.where(AccessLogEntry.subject_id == subject_id)
    if action is not None:
        statement = statement.where(AccessLogEntry.action == action)
    if since is not None:
        statement = statement.where(AccessLogEntry.accessed_at >= since)
    if after is not None:
        statement = statement.where(AccessLogEntry.id > after)
    rows = list(session.scalars(statement))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
