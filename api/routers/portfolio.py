"""GET /v1/portfolio: exposure by grade, bank and guarantor, delinquency buckets, open alerts by kind.

The figures are ``loan_monitoring.portfolio`` — the same the console's portfolio page shows."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from api.auth import OfficerClient
from api.deps import DbSession
from loan_monitoring import portfolio as portfolio_service
from loan_monitoring.schemas import PortfolioOut

router = APIRouter(prefix="/v1", tags=["portfolio"])


class PortfolioAsOfOut(PortfolioOut):
    """The portfolio with the moment it describes written as every time of the API is (RFC 3339 UTC,
    ``Z``) and the Beijing business date beside it."""

    as_of: datetime = Field(description="the moment the figures describe: now, or the end of the past "
                                        "business day asked for (RFC 3339, UTC)")
    as_of_date: date = Field(description="the Beijing business date of the figures (ISO 8601)")


@router.get(
    "/portfolio",
    response_model=PortfolioAsOfOut,
    summary="Exposure and delinquency by grade, bank and guarantor; open alerts by kind",
)
def portfolio(
    principal: OfficerClient,
    session: DbSession,
    as_of: Annotated[date | None, Query(
        description="ISO date (YYYY-MM-DD, Beijing business date): the book as it stood at the end of that "
                    "day; today or absent: now; a later date is refused")] = None,
) -> PortfolioAsOfOut:
    return PortfolioAsOfOut.model_validate(portfolio_service.portfolio(session, as_of))
