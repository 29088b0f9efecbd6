"""HTTP for alerts: risk officers list the findings of fund-usage monitoring and early warning and
resolve them with a written reason."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime

from api.auth import OfficerClient
from api.deps import DbSession
from api.idempotency import Idempotency
from loan_monitoring import alerting
from loan_monitoring.schemas import AlertOut, AlertPage, AlertResolutionIn

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.get("/alerts", response_model=AlertPage, summary="Alerts, newest first (risk officers)")
def list_alerts(
    principal: OfficerClient,
    session: DbSession,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    kind: Annotated[
        str | None, Query(max_length=48, description="e.g. funds_to_other_account, days_past_due")
    ] = None,
    severity: Annotated[Literal["info", "warning", "critical"] | None, Query()] = None,
    source: Annotated[Literal["fund_usage", "early_warning", "delinquency"] | None, Query()] = None,
    dealer_id: Annotated[str | None, Query(max_length=32)] = None,
    loan_id: Annotated[str | None, Query(max_length=32)] = None,
    bank_id: Annotated[str | None, Query(max_length=32)] = None,
    raised_since: AwareDatetime | None = None,
    raised_before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertPage:
    filters = alerting.AlertFilter(
        status=None if status == "all" else status,
        kind=kind,
        severity=severity,
        source=source,
        dealer_id=dealer_id,
        loan_id=loan_id,
        bank_id=bank_id,
        raised_since=raised_since,
        raised_before=raised_before,
    )
    rows, next_cursor = alerting.list_alerts(session, filters, limit=limit, cursor=cursor)
    return AlertPage(items=[AlertOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert with its evidence")
def get_alert(alert_id: str, principal: OfficerClient, session: DbSession) -> AlertOut:
    return AlertOut.model_validate(alerting.get_alert(session, alert_id))


@router.post(
    "/alerts/{alert_id}/resolution",
    response_model=AlertOut,
    summary="Resolve an open alert with a written reason (optionally unfreezing the lines it froze)",
)
def resolve_alert(
    alert_id: str, body: AlertResolutionIn, principal: OfficerClient, session: DbSession, idem: Idempotency
) -> Response:
    return idem.run(
        session,
        principal,
        lambda: AlertOut.model_validate(
            alerting.resolve_alert(
                session,
                alert_id,
                resolution=body.resolution,
                reason=body.reason,
                actor=principal.actor,
                unfreeze_lines=body.unfreeze_lines,
            )
        ),
    )
