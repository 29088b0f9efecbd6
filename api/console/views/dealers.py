"""The dealer page: trade (monthly purchases, payment delays), grade and limit history, credit lines,
order loans with their fund-usage trace (``loan_monitoring.views.loan_view``, as ``GET
/v1/order-loans/{id}`` shows them), and alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console import charts, formatting, presenters, queries
from api.console.auth import ConsoleOfficer, clock
from api.console.rendering import render
from api.console.views.common import friendly_error
from api.deps import DbSession
from limits import ledger
from loan_monitoring import alerting, views
from risk_engine.decisions import service
from risk_engine.parties.models import Dealer, Guarantor

router = APIRouter()
HISTORY_MONTHS = 24


@router.get("/console/dealers")
def find_dealer(
    request: Request,
    officer: ConsoleOfficer,
    session: DbSession,
    id: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The header's search box: a dealer id, credit code or platform id opens the dealer; a name lists
    the matches."""
    matches = queries.find_dealers(session, id.strip()) if id.strip() else []
    if len(matches) == 1:
        return RedirectResponse(f"/console/dealers/{matches[0].id}", status_code=303)
    return render(request, "dealers.html", officer=officer, query=id, matches=matches)


@router.get("/console/dealers/{dealer_id}")
def dealer_page(dealer_id: str, request: Request, officer: ConsoleOfficer, session: DbSession) -> Response:
    t = officer.t
    dealer = session.get(Dealer, dealer_id)
    if dealer is None:
        return friendly_error(request, officer, 404, t("dealer.not_found", id=dealer_id))
    now = clock(request)()
    today = presenters.business_date(now)  # the Beijing date: due dates and business months are Beijing's
    labels = presenters.month_labels(today, HISTORY_MONTHS)
    since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=31 * (HISTORY_MONTHS - 1)
    )
    purchases = presenters.monthly_purchases(queries.dealer_orders(session, dealer.id, since), labels)
    average, longest = presenters.monthly_delays(
        queries.dealer_bills(session, dealer.id, since.date()), labels, today
    )
    lines = ledger.lines_of_dealer(session, dealer.id)
    decisions = list(reversed(service.list_decisions(session, dealer_id=dealer.id, limit=1000)))
    loans = [views.loan_view(session, loan, as_of=now) for loan in queries.dealer_loans(session, dealer.id)]
    alerts = alerting.list_alerts(session, alerting.AlertFilter(status=None, dealer_id=dealer.id), limit=50)[
        0
    ]
    banks = (
        [line.bank_id for line in lines]
        + [d.bank_id for d in decisions]
        + [loan["bank_id"] for loan in loans]
    )
    names = queries.party_names(session, [dealer.id], banks)
    short = [label[2:] for label in labels]  # 24-11: fits under a column
    return render(
        request,
        "dealer.html",
        officer=officer,
        dealer=dealer,
        names=names,
        guarantor=session.get(Guarantor, dealer.guarantor_id) if dealer.guarantor_id else None,
        purchases_svg=charts.column_chart_svg(
            short,
            [charts.Series(t("dealer.purchases"), [float(v) for v in purchases])],
            title=t("dealer.purchases"),
            unit=t("common.cny"),
            value_format=_compact_money,
        ),
        delays_svg=charts.column_chart_svg(
            short,
            [
                charts.Series(t("dealer.avg_days_late"), average),
                charts.Series(
                    t("dealer.max_days_late"),
                    [None if v is None else float(v) for v in longest],
                    charts.RISK_UP,
                ),
            ],
            title=t("dealer.delays"),
            unit=t("dealer.days_late"),
            value_format=lambda v: f"{v:.0f}",
            line=True,
        ),
        months=list(zip(labels, purchases, average, longest, strict=True)),
        lines=lines,
        movements=queries.limit_history(session, [line.id for line in lines]),
        decisions=decisions,
        loans=loans,
        alerts=alerts,
        actors=queries.actor_names(session, [a.resolved_by for a in alerts if a.resolved_by]),
    )


def _compact_money(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.1f}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:,.0f}k"
    return formatting.number(int(value))
