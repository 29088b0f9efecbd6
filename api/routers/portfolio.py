"""GET /v1/portfolio: exposure by grade, bank and guarantor, delinquency buckets, open alerts by kind.

The figures are ``loan_monitoring.portfolio`` — the same the console's portfolio page shows."""
from __future__ import annotations

from fastapi import APIRouter

from api.auth import OfficerClient
from api.deps import DbSession
from loan_monitoring import portfolio as portfolio_service
from loan_monitoring.schemas import PortfolioOut

router = APIRouter(prefix="/v1", tags=["portfolio"])


@router.get(
    "/portfolio",
    response_model=PortfolioOut,
    summary="Exposure and delinquency by grade, bank and guarantor; open alerts by kind",
)
def portfolio(principal: OfficerClient, session: DbSession) -> PortfolioOut:
    return PortfolioOut.model_validate(portfolio_service.portfolio(session))
