"""HTTP for the one-year LPR table behind the order-loan APR cap (admin): read it, record an announced fixing,
confirm it through a date. Each record is audited (``loan_monitoring.lpr_records``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response

from api.auth import AdminClient
from api.deps import DbSession
from api.idempotency import Idempotency
from loan_monitoring import lpr_records
from loan_monitoring.dates import business_date
from loan_monitoring.schemas import LprConfirmationIn, LprFixingIn
from risk_engine.errors import InvalidInput

router = APIRouter(prefix="/v1/lpr", tags=["lpr"])
T = TypeVar("T")


def _today() -> date:
    return business_date(datetime.now(UTC))


def _naming_the_body(record: Callable[[], T]) -> T:
    """``record``, with a refused value named as the request names it (``body.confirmed_through``): the
    service names the field alone, as the ``risk-engine lpr`` commands show it."""
    try:
        return record()
    except InvalidInput as refused:
        if refused.field and not refused.field.startswith("body."):
            refused.field = f"body.{refused.field}"
        raise


@router.get(
    "",
    summary="The one-year LPR table in force: confirmed through, whether today is covered, fixings, records",
    description="An order loan decided more than `RISK_LPR_GRACE_DAYS` after `confirmed_through` is referred "
    "(`apr_within_cap`): the LPR in force is not known until an operator records it or confirms the table.",
)
def get_lpr_table(principal: AdminClient, session: DbSession, request: Request) -> dict[str, Any]:
    return lpr_records.table_view(session, request.app.state.settings, today=_today())


@router.post("/fixings", status_code=201, summary="Record an announced one-year LPR fixing (audited)")
def record_fixing(
    body: LprFixingIn, principal: AdminClient, session: DbSession, idem: Idempotency, request: Request
) -> Response:
    def record() -> dict[str, Any]:
        lpr_records.record_fixing(
            session,
            effective_date=body.effective_date,
            rate_percent=body.rate_percent,
            source=body.source,
            actor=principal.actor,
            today=_today(),
        )
        return lpr_records.table_view(session, request.app.state.settings, today=_today())

    return idem.run(session, principal, lambda: _naming_the_body(record), status_code=201)


@router.post("/confirmations", status_code=201, summary="Confirm the table complete through a date (audited)")
def record_confirmation(
    body: LprConfirmationIn, principal: AdminClient, session: DbSession, idem: Idempotency, request: Request
) -> Response:
    def record() -> dict[str, Any]:
        lpr_records.record_confirmation(
            session, through=body.confirmed_through, source=body.source, actor=principal.actor, today=_today()
        )
        return lpr_records.table_view(session, request.app.state.settings, today=_today())

    return idem.run(session, principal, lambda: _naming_the_body(record), status_code=201)
