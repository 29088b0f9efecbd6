"""Request and response bodies of the order-loan and alert routes. Money is a decimal string in CNY;
times are RFC 3339 with a zone (stored UTC)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, PlainSerializer

from risk_engine.schemas import Money, PositiveMoney, Ratio, RequestModel, ResponseModel

Reference = Annotated[str, Field(min_length=1, max_length=64, description="the bank's own id of the payment")]
Account = Annotated[
    str,
    Field(
        min_length=6,
        max_length=40,
        description="bank account number (personal data: stored encrypted, shown as ****1234)",
    ),
]


class OrderLoanIn(RequestModel):
    dealer_id: Annotated[
        str, Field(min_length=1, max_length=64, description="engine id or the platform's id")
    ]
    bank_id: Annotated[str, Field(min_length=1, max_length=32)]
    order_id: Annotated[str, Field(min_length=1, max_length=64, description="engine id or the platform's id")]
    amount: PositiveMoney
    tenor_days: Annotated[int, Field(gt=0, le=3650)]
    invoice_code: Annotated[
        str | None, Field(max_length=20, description="absent for a fully digital invoice")
    ] = None
    invoice_number: Annotated[
        str | None,
        Field(min_length=1, max_length=20, description="the invoice financed, if there is one yet"),
    ] = None
    upfront_fees: Money = Decimal("0.00")
    applied_at: AwareDatetime | None = Field(default=None, description="default: now")


class ApplicationOut(ResponseModel):
    """The decision on an application: the outcome, every check with its reason, and the loan it created."""

    loan_id: str
    decision_id: str | None
    state: str = Field(description="approved, declined, or applied while a referral awaits review")
    outcome: Literal["approve", "refer", "decline"] | None
    amount: Money
    approved_amount: Money
    reserved: Money
    all_in_apr: str | None
    apr_cap: str | None
    lpr: str | None
    lpr_effective_date: date | None
    lpr_confirmed_through: date | None = Field(
        default=None, description="the LPR table was known complete through this date when the engine decided")
    max_amount_by_ratio: str | None
    failed_checks: list[str]
    checks: list[dict[str, Any]]
    review_case_id: str | None


class CancelIn(RequestModel):
    reason: Annotated[str | None, Field(max_length=500)] = None


class RecallIn(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    at: AwareDatetime | None = None


class DisbursementIn(RequestModel):
    reference: Reference
    amount: PositiveMoney
    payee_account: Account
    paid_at: AwareDatetime


class RepaymentIn(RequestModel):
    reference: Reference
    amount: PositiveMoney
    paid_at: AwareDatetime


class FundFlowIn(RequestModel):
    kind: Literal["supplier_receipt", "refund", "transfer"] = Field(
        description="supplier_receipt: the supplier's account (`to_account`, required) received loan funds; "
        "refund: money came back to the loan because the trade unwound; transfer: money moved onwards from "
        "an account to another (`from_account` and `to_account` required)"
    )
    reference: Reference
    amount: PositiveMoney
    occurred_at: AwareDatetime
    from_account: Account | None = None
    to_account: Account | None = None


class DisbursementOut(ResponseModel):
    id: str
    loan_id: str
    reference: str
    amount: Money
    paid_at: datetime
    payee_account: str
    recorded_at: datetime


class RepaymentOut(ResponseModel):
    id: str
    loan_id: str
    reference: str
    amount: Money
    paid_at: datetime
    paid_on: date
    to_penalty_interest: Money
    to_interest: Money
    to_principal: Money
    overpayment: Money
    principal_after: Money


class FundFlowOut(ResponseModel):
    id: str
    loan_id: str
    kind: str
    reference: str
    amount: Money
    occurred_at: datetime
    from_account: str | None
    to_account: str | None


class AlertResolutionIn(RequestModel):
    resolution: Literal["confirmed", "false_positive", "remediated", "accepted_risk"]
    reason: Annotated[
        str, Field(min_length=1, max_length=2000, description="mandatory, written for the record")
    ]
    unfreeze_lines: bool = Field(default=False, description="unfreeze the credit lines this alert froze")


class AlertOut(ResponseModel):
    id: str
    kind: str
    severity: str
    source: str
    status: str
    dedup_key: str
    dealer_id: str | None
    loan_id: str | None
    bank_id: str | None
    message_zh: str
    message_en: str
    evidence: dict[str, Any]
    actions: list[str]
    actions_taken: list[dict[str, Any]]
    occurrences: int
    raised_at: datetime
    last_seen_at: datetime
    escalated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    resolution_reason: str | None


class AlertPage(ResponseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class OrderLoanOut(ResponseModel):
    """The loan, what is owed, its tranches and repayments, the fund-usage trace and its alerts."""

    id: str
    state: str
    dealer_id: str
    bank_id: str
    order_id: str | None
    supplier_id: str | None
    invoice_id: str | None
    invoice_key: str | None
    decision_id: str | None
    line_id: str | None
    amount: Money
    approved_amount: Money
    tenor_days: int
    apr: Ratio
    all_in_apr: Ratio
    apr_cap: Ratio
    lpr: Ratio
    lpr_effective_date: date
    day_count: str
    reserved: Money
    disbursed_amount: Money
    principal_repaid: Money
    outstanding_principal: Money
    interest_paid: Money
    penalty_interest_paid: Money
    days_past_due: int
    bucket: str
    due_on: date | None
    applied_at: datetime
    decided_at: datetime | None
    first_disbursed_at: datetime | None
    repaid_at: datetime | None
    defaulted_at: datetime | None
    recalled_at: datetime | None
    closed_at: datetime | None
    allowed_events: list[str]
    explanation: dict[str, Any] | None
    owed: dict[str, Any] | None
    disbursements: list[dict[str, Any]]
    repayments: list[dict[str, Any]]
    fund_usage_trace: list[dict[str, Any]]
    delinquency: dict[str, Any] | None
    alerts: list[dict[str, Any]]


# --------------------------------------------------------------------------- the portfolio

# ``as_of`` has always been sent as Python writes it (``+00:00``, microseconds), not pydantic's ``Z``.
IsoTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat(), return_type=str, when_used="json")]


class ExposureGroupOut(ResponseModel):
    key: str | None = Field(description="the grade, or the bank's or guarantor's id; null: no grade / no guarantor")
    label: str | None = Field(description="the grade, or the bank's or guarantor's name; null as for key")
    lines: int = Field(description="open (not closed) credit lines in the group")
    limit: Money = Field(description="sum of their limits")
    exposure: Money = Field(description="sum of their reserved + utilised")


class DelinquencyBucketOut(ResponseModel):
    bucket: str = Field(description="current, 1-30, 31-60, 61-90 or 90+ days past due")
    loans: int = Field(description="outstanding loans (disbursed, overdue, recalled, defaulted) in the bucket")
    outstanding: Money = Field(description="their outstanding principal")


class OpenAlertsOfKindOut(ResponseModel):
    kind: str
    total: int
    info: int
    warning: int
    critical: int


class PortfolioOut(ResponseModel):
    """Exposure of the open credit lines, outstanding order loans by delinquency, open alerts."""

    as_of: IsoTime = Field(description="when the figures were read")
    exposure_by_grade: list[ExposureGroupOut] = Field(description="largest exposure first")
    exposure_by_bank: list[ExposureGroupOut] = Field(description="largest exposure first")
    exposure_by_guarantor: list[ExposureGroupOut] = Field(description="largest exposure first")
    delinquency_buckets: list[DelinquencyBucketOut] = Field(description="all five buckets, current first")
    open_alerts_by_kind: list[OpenAlertsOfKindOut] = Field(description="most open alerts first")


LprSource = Annotated[
    str, Field(min_length=1, max_length=200, description="where it was published, or what was checked")
]


class LprFixingIn(RequestModel):
    effective_date: date = Field(description="the date the fixing takes effect (Beijing); not after today")
    rate_percent: Annotated[
        Decimal, Field(gt=0, lt=20, decimal_places=2, description="the one-year LPR in percent as published: 3.00")
    ]
    source: LprSource = "PBOC / NIFC one-year LPR announcement"


class LprConfirmationIn(RequestModel):
    confirmed_through: date = Field(
        description="no announced fixing up to this date (Beijing; not after today) changed the rate beyond the "
        "table's fixings"
    )
    source: LprSource = "PBOC / NIFC announcements checked: no change beyond the fixings recorded"
