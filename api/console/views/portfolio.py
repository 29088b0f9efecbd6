"""The portfolio page: exposure by grade, bank and guarantor; delinquency buckets; open alerts by kind.

The figures are ``loan_monitoring.portfolio.portfolio`` — what ``GET /v1/portfolio`` answers; this page
only orders the grades by the master scale, names the groups without a grade or guarantor, and draws."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console import charts, formatting
from api.console.auth import ConsoleOfficer
from api.console.rendering import render
from api.deps import DbSession
from limits.policy import MASTER_SCALE
from loan_monitoring import portfolio
from loan_monitoring.portfolio import ExposureGroup

router = APIRouter()


@router.get("/console/portfolio")
def portfolio_page(request: Request, officer: ConsoleOfficer, session: DbSession) -> Response:
    t = officer.t
    figures = portfolio.portfolio(session)
    by_grade = [
        replace(g, label=g.label or "—")
        for g in sorted(
            figures.exposure_by_grade,
            key=lambda g: MASTER_SCALE.index(g.key) if g.key in MASTER_SCALE else len(MASTER_SCALE),
        )
    ]
    by_bank = figures.exposure_by_bank
    by_guarantor = [replace(g, label=g.label or t("portfolio.no_guarantor")) for g in figures.exposure_by_guarantor]

    def bars(rows: list[ExposureGroup], title: str) -> str:
        """Each group's limits, with the exposure drawn inside them."""
        return charts.hbar_chart_svg(
            [(str(r.label), float(r.limit)) for r in rows],
            overlay=[float(r.exposure) for r in rows],
            names=(t("portfolio.limit"), t("portfolio.exposure")),
            title=title,
            value_format=_compact,
        )

    buckets, alerts = figures.delinquency_buckets, figures.open_alerts_by_kind
    return render(
        request,
        "portfolio.html",
        officer=officer,
        buckets=buckets,
        buckets_svg=charts.hbar_chart_svg(
            [(b.bucket, float(b.outstanding)) for b in buckets],
            title=t("portfolio.buckets_chart"),
            value_format=_compact,
        ),
        alerts=alerts,
        alerts_svg=charts.hbar_chart_svg(
            [(a.kind, float(a.total)) for a in alerts],
            title=t("portfolio.alerts_chart"),
            value_format=lambda v: f"{v:.0f}",
            colour=charts.RISK_UP,
        ),
        sections=[
            ("grade", t("portfolio.by_grade"), by_grade, bars(by_grade, t("portfolio.by_grade"))),
            ("bank", t("portfolio.by_bank"), by_bank, bars(by_bank, t("portfolio.by_bank"))),
            (
                "guarantor",
                t("portfolio.by_guarantor"),
                by_guarantor,
                bars(by_guarantor, t("portfolio.by_guarantor")),
            ),
        ],
    )


def _compact(value: float) -> str:
    """Bar labels stay short (the tables below give the exact amounts)."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:,.0f}k"
    return formatting.money(f"{value:.2f}")
