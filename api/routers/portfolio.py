"""GET /v1/portfolio: exposure by grade, bank and guarantor, delinquency buckets, open alerts by kind.

The figures are the same read-only queries the console's portfolio page shows (api.console.queries);
moving them into a portfolio service of their own is a noted follow-up."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import OfficerClient
from api.console import queries
from api.deps import DbSession
from risk_engine.db import utcnow

router = APIRouter(prefix="/v1", tags=["portfolio"])


@router.get("/portfolio", summary="Exposure and delinquency by grade, bank and guarantor; open alerts by kind")
def portfolio(principal: OfficerClient, session: DbSession) -> dict[str, Any]:
    def money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: (f"{v:.2f}" if k in ("limit", "exposure", "outstanding") else v) for k, v in r.items()}
                for r in rows]

    return {
        "as_of": utcnow().isoformat(),
        "exposure_by_grade": money(queries.exposure_by(session, "grade")),
        "exposure_by_bank": money(queries.exposure_by(session, "bank")),
        "exposure_by_guarantor": money(queries.exposure_by(session, "guarantor")),
        "delinquency_buckets": money(queries.delinquency_buckets(session)),
        "open_alerts_by_kind": queries.open_alerts_by_kind(session),
    }
