"""Alerts: the findings of fund-usage monitoring and early warning, listed and resolved with a reason.

Listing is ``loan_monitoring.alerting.list_alerts`` and resolving ``alerting.resolve_alert`` with the form
checked by ``AlertResolutionIn`` — what ``GET /v1/alerts`` and ``POST /v1/alerts/{id}/resolution`` call.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.console import queries
from api.console.auth import CheckedForm, ConsoleOfficer, form_text, safe_next
from api.console.rendering import render
from api.console.views.common import flash_from, friendly_error, validation_message
from api.deps import DbSession
from loan_monitoring import alerting, portfolio
from loan_monitoring.models import ALERT_RESOLUTIONS, ALERT_SEVERITIES, ALERT_SOURCES
from loan_monitoring.schemas import AlertResolutionIn
from risk_engine.errors import DomainError

router = APIRouter()
PAGE = 50


@router.get("/console/alerts")
def alerts_page(
    request: Request,
    officer: ConsoleOfficer,
    session: DbSession,
    status: Literal["open", "resolved", "all"] = "open",
    kind: Annotated[str | None, Query(max_length=48)] = None,
    severity: Literal["", "info", "warning", "critical"] = "",
    source: Literal["", "fund_usage", "early_warning", "delinquency"] = "",
    dealer: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    filters = alerting.AlertFilter(
        status=None if status == "all" else status,
        kind=kind or None,
        severity=severity or None,
        source=source or None,
        dealer_id=dealer or None,
    )
    try:
        rows, next_cursor = alerting.list_alerts(session, filters, limit=PAGE, cursor=cursor or None)
    except DomainError as exc:
        return friendly_error(request, officer, exc.status, exc.detail, back="/console/alerts")
    names = queries.party_names(
        session, [r.dealer_id for r in rows if r.dealer_id], [r.bank_id for r in rows if r.bank_id]
    )
    return render(
        request,
        "alerts.html",
        officer=officer,
        rows=rows,
        names=names,
        next_cursor=next_cursor,
        status=status,
        kind=kind or "",
        severity=severity,
        source=source,
        dealer=dealer or "",
        severities=ALERT_SEVERITIES,
        sources=ALERT_SOURCES,
        resolutions=ALERT_RESOLUTIONS,
        kinds=[k.kind for k in portfolio.open_alerts_by_kind(session)],
        actors=queries.actor_names(session, [r.resolved_by for r in rows if r.resolved_by]),
        flash=flash_from(officer.t, done),
    )


@router.post("/console/alerts/{alert_id}/resolution")
def resolve_alert(
    alert_id: str, request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession
) -> Response:
    back = safe_next(form_text(form, "next"), "/console/alerts")
    try:
        body = AlertResolutionIn.model_validate(
            {
                "resolution": form_text(form, "resolution"),
                "reason": form_text(form, "reason"),
                "unfreeze_lines": form_text(form, "unfreeze_lines") == "on",
            }
        )
        alerting.resolve_alert(
            session,
            alert_id,
            resolution=body.resolution,
            reason=body.reason,
            actor=officer.actor,
            unfreeze_lines=body.unfreeze_lines,
        )
        session.commit()
    except ValidationError as exc:
        session.rollback()
        detail = "; ".join(validation_message(e, officer.t) for e in exc.errors())
        return friendly_error(request, officer, 422, detail, back=back)
    except DomainError as exc:
        session.rollback()
        return friendly_error(request, officer, exc.status, exc.detail, back=back)
    base, _, fragment = back.partition("#")
    return RedirectResponse(f"{base}{'&' if '?' in base else '?'}done=alert.resolved", status_code=303)
