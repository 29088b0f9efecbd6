"""Request and response bodies of the decision core: credit-limit requests, decisions, reviews, rule sets,
credit lines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from risk_engine.schemas import Money, PositiveMoney, RequestModel, ResponseModel, refuse

Reason = Annotated[
    str, Field(min_length=1, max_length=2000, description="why: mandatory, kept in the audit trail")
]


class CreditLimitRequestIn(RequestModel):
    dealer_id: str = Field(min_length=1, max_length=64, description="the engine's dealer id, or the platform's own")
    bank_id: str = Field(min_length=1, max_length=32)
    requested_amount: PositiveMoney | None = Field(
        default=None, description="the limit the dealer asks for; never exceeded"
    )
    guarantee_amount: PositiveMoney | None = Field(
        default=None, description="the guarantee the dealer's guarantor committed for this line, if agreed"
    )
    request_ref: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="the platform's own request id",
    )


class ReviewResolutionIn(RequestModel):
    resolution: Literal["approve", "decline", "adjust"] = Field(
        description="approve the proposed limit, decline, or adjust: approve with `limit`"
    )
    limit: Money | None = Field(default=None, description="the limit to grant (adjust only)")
    reason: Reason

    @model_validator(mode="after")
    def _limit_only_for_adjust(self) -> ReviewResolutionIn:
        if self.resolution == "adjust" and self.limit is None:
            refuse(self, "limit", "limit is required to adjust")
        if self.resolution != "adjust" and self.limit is not None:
            refuse(self, "limit", "limit is only given to adjust")
        if not self.reason.strip():
            refuse(self, "reason", "reason must not be blank")
        return self


class SecondApprovalIn(RequestModel):
    decision: Literal["approve", "reject"] = Field(description="confirm the override, or send it back")
    reason: Reason

    @model_validator(mode="after")
    def _reason_not_blank(self) -> SecondApprovalIn:
        if not self.reason.strip():
            refuse(self, "reason", "reason must not be blank")
        return self


class RuleSetDraftIn(RequestModel):
    """A new draft: ``rules`` as JSON rule objects, or a copy of ``copy_of`` (the active set when neither)."""

    rules: list[dict[str, Any]] | None = Field(default=None, max_length=500)
    copy_of: int | None = Field(default=None, ge=1)
    description: str | None = Field(default=None, max_length=2000)


class CreditLineOut(ResponseModel):
    id: str
    bank_id: str
    limit: Money
    reserved: Money
    utilised: Money
    available: Money
    grade: str | None
    status: str
    expires_on: date | None
    version: int
    updated_at: datetime


class DealerCreditLinesOut(ResponseModel):
    dealer_id: str
    lines: list[CreditLineOut]
