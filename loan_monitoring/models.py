"""Tables of the loan-monitoring domain: order loans, what happened to their money (disbursements,
repayments, supplier receipts and other fund flows), daily delinquency snapshots, and alerts.

The CHECK constraints and the partial unique indexes are the last line of defence behind the
services: even a buggy caller cannot store an unknown state, disburse more than was approved, or
finance the same order or invoice twice (``uq_order_loan_financed_order`` / ``…_invoice``), nor keep
two open alerts under one dedup key (``uq_alert_open_dedup_key``).

Account numbers are personal data (PIPL): a payee or counterparty account is stored only as a
``compliance.fieldcrypt`` token, its blind index (for matching against the supplier's account) and
its last four digits (for people reading a trace).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import AuditSeq, Base, Money, Ratio, UTCDateTime, utcnow

LOAN_STATES = (
    "applied",
    "approved",
    "declined",
    "disbursed",
    "overdue",
    "defaulted",
    "recalled",
    "repaid",
    "cancelled",
)
# States in which a loan finances its order and invoice: a second loan on them is duplicate financing.
# (A referred application, still ``applied``, is refused by the checks, not by the index: an officer
# may yet decline it.)
FINANCING_STATES = ("approved", "disbursed", "overdue", "defaulted", "recalled", "repaid")
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
FUND_FLOW_KINDS = ("supplier_receipt", "refund", "transfer")
ALERT_STATUSES = ("open", "resolved")
ALERT_SEVERITIES = ("info", "warning", "critical")
ALERT_SOURCES = ("fund_usage", "early_warning", "delinquency")
ALERT_RESOLUTIONS = ("confirmed", "false_positive", "remediated", "accepted_risk")

_ZERO = Decimal("0.00")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_FINANCING = text(_in("state", FINANCING_STATES))


class OrderLoan(Base):
    """One order loan (订单贷) from application to its end; the running figures are kept in step by
    ``loan_monitoring.service`` in the same transaction as the event that moves them."""

    __tablename__ = "order_loan"
    __table_args__ = (
        CheckConstraint(_in("state", LOAN_STATES), name="state_known"),
        CheckConstraint(_in("bucket", BUCKETS), name="bucket_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("tenor_days > 0", name="tenor_positive"),
        CheckConstraint("approved_amount >= 0 AND approved_amount <= amount", name="approved_range"),
        CheckConstraint("reserved_held >= 0", name="reserved_non_negative"),
        CheckConstraint(
            "disbursed_amount >= 0 AND disbursed_amount <= approved_amount", name="disbursed_range"
        ),
        CheckConstraint(
            "outstanding_principal >= 0 AND outstanding_principal <= disbursed_amount",
            name="outstanding_range",
        ),
        CheckConstraint("days_past_due >= 0", name="dpd_non_negative"),
        Index("ix_order_loan_dealer_bank", "dealer_id", "bank_id"),
        Index("ix_order_loan_state", "state"),
        Index(
            "uq_order_loan_financed_order",
            "order_id",
            unique=True,
            sqlite_where=_FINANCING,
            postgresql_where=_FINANCING,
        ),
        Index(
            "uq_order_loan_financed_invoice",
            "invoice_key",
            unique=True,
            sqlite_where=_FINANCING,
            postgresql_where=_FINANCING,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), index=True)
    order_id: Mapped[str | None] = mapped_column(
        ForeignKey("trade_order.id"),
        nullable=True,
        index=True,
        doc="null only for an application declined for an unknown order",
    )
    supplier_id: Mapped[str | None] = mapped_column(ForeignKey("supplier.id"), nullable=True)
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoice.id"), nullable=True)
    invoice_key: Mapped[str | None] = mapped_column(
        String(48), nullable=True, index=True, doc="trade.invoice_key(code, number) of the financed invoice"
    )
    line_id: Mapped[str | None] = mapped_column(String(32), nullable=True, doc="credit_line.id at this bank")
    decision_id: Mapped[str | None] = mapped_column(String(32), nullable=True, doc="the recorded decision")
    state: Mapped[str] = mapped_column(String(16))

    amount: Mapped[Decimal] = mapped_column(Money, doc="applied for")
    tenor_days: Mapped[int] = mapped_column(Integer)
    apr: Mapped[Decimal] = mapped_column(Ratio, doc="contract annual rate of the bank's product")
    day_count: Mapped[str] = mapped_column(String(8), default="ACT/365")
    upfront_fees: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    all_in_apr: Mapped[Decimal] = mapped_column(Ratio, doc="per 365-day year, one-off fees included")
    apr_cap: Mapped[Decimal] = mapped_column(Ratio, doc="4 x the one-year LPR on the decision date")
    lpr: Mapped[Decimal] = mapped_column(Ratio)
    lpr_effective_date: Mapped[date] = mapped_column(Date)

    approved_amount: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    reserved_held: Mapped[Decimal] = mapped_column(
        Money, default=_ZERO, doc="what this loan holds reserved on the credit line"
    )
    disbursed_amount: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    principal_repaid: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    outstanding_principal: Mapped[Decimal] = mapped_column(
        Money, default=_ZERO, doc="= what this loan holds utilised on the line"
    )
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    penalty_interest_paid: Mapped[Decimal] = mapped_column(Money, default=_ZERO)
    days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    bucket: Mapped[str] = mapped_column(String(8), default="current")

    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_disbursed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_on: Mapped[date | None] = mapped_column(
        Date, nullable=True, doc="maturity (Beijing date); recall date"
    )
    repaid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    defaulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="declined, cancelled or repaid"
    )
    explanation: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, doc="every application check with its reason"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Disbursement(Base):
    """A tranche the bank paid under entrusted payment (受托支付), as the bank reported it."""

    __tablename__ = "loan_disbursement"
    __table_args__ = (
        UniqueConstraint("loan_id", "bank_reference", name="uq_loan_disbursement_loan_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("order_loan.id"), index=True)
    bank_reference: Mapped[str] = mapped_column(String(64), doc="the bank's own id of the payment")
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payee_account_enc: Mapped[str] = mapped_column(Text, doc="fieldcrypt token")
    payee_account_index: Mapped[str] = mapped_column(String(64), index=True, doc="blind index")
    payee_account_last4: Mapped[str] = mapped_column(String(4))
    to_supplier_account: Mapped[bool] = mapped_column(Boolean)
    reported_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Repayment(Base):
    """A repayment the bank reported, and how it was allocated (penalty, interest, then principal)."""

    __tablename__ = "loan_repayment"
    __table_args__ = (
        UniqueConstraint("loan_id", "bank_reference", name="uq_loan_repayment_loan_reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "to_penalty_interest + to_interest + to_principal + overpayment = amount",
            name="allocation_complete",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("order_loan.id"), index=True)
    bank_reference: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_on: Mapped[date] = mapped_column(Date, doc="Beijing business date: interest runs up to it")
    to_penalty_interest: Mapped[Decimal] = mapped_column(Money)
    to_interest: Mapped[Decimal] = mapped_column(Money)
    to_principal: Mapped[Decimal] = mapped_column(Money)
    overpayment: Mapped[Decimal] = mapped_column(Money)
    principal_after: Mapped[Decimal] = mapped_column(Money)
    reported_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FundFlow(Base):
    """Money seen after disbursement in the account-flow records the bank keeps: the supplier's receipt
    of the funds, a refund to the loan when the trade unwound, or a transfer onwards."""

    __tablename__ = "loan_fund_flow"
    __table_args__ = (
        UniqueConstraint("loan_id", "bank_reference", name="uq_loan_fund_flow_loan_reference"),
        CheckConstraint(_in("kind", FUND_FLOW_KINDS), name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("order_loan.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    bank_reference: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_account_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    from_account_index: Mapped[str | None] = mapped_column(String(64), nullable=True)
    from_account_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    to_account_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    to_account_index: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_account_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    reported_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DelinquencySnapshot(Base):
    """Days past due and bucket of one loan on one business date, written by the daily job."""

    __tablename__ = "loan_delinquency"
    __table_args__ = (
        UniqueConstraint("loan_id", "as_of", name="uq_loan_delinquency_loan_as_of"),
        CheckConstraint(_in("bucket", BUCKETS), name="bucket_known"),
        CheckConstraint("days_past_due >= 0", name="dpd_non_negative"),
        Index("ix_loan_delinquency_as_of", "as_of", "bucket"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[str] = mapped_column(ForeignKey("order_loan.id"))
    as_of: Mapped[date] = mapped_column(Date)
    days_past_due: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(8))
    amount_past_due: Mapped[Decimal] = mapped_column(Money)
    oldest_unpaid_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    outstanding_principal: Mapped[Decimal] = mapped_column(Money)
    in_default: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), doc="the loan's state after the run")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """A finding of fund-usage monitoring or early warning, for a risk officer to resolve.

    While open, its ``dedup_key`` is unique: the same finding raised again only bumps
    ``last_seen_at``/``occurrences`` or escalates this row (more severe, more actions)."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status_known"),
        CheckConstraint(_in("severity", ALERT_SEVERITIES), name="severity_known"),
        CheckConstraint(_in("source", ALERT_SOURCES), name="source_known"),
        CheckConstraint(
            f"resolution IS NULL OR {_in('resolution', ALERT_RESOLUTIONS)}", name="resolution_known"
        ),
        CheckConstraint("(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_consistent"),
        Index(
            "uq_alert_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_alert_status_raised", "status", "raised_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default="open")
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"), nullable=True, index=True)
    loan_id: Mapped[str | None] = mapped_column(ForeignKey("order_loan.id"), nullable=True, index=True)
    bank_id: Mapped[str | None] = mapped_column(ForeignKey("bank.id"), nullable=True, index=True)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    actions: Mapped[list[str]] = mapped_column(JSON, doc="what the finding calls for")
    actions_taken: Mapped[list[dict[str, Any]]] = mapped_column(JSON, doc="what the engine did about it")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class LprFixingRecord(Base):
    """A one-year LPR fixing an operator recorded as announced (PBOC / NIFC), beside the bundled
    ``lpr_1y.csv``; it also confirms the table through its effective date. Append-only: a correction is a
    later row for the same date (the latest recorded wins), each with its audit entry."""

    __tablename__ = "lpr_fixing"
    __table_args__ = (
        CheckConstraint("rate > 0 AND rate < 0.2", name="rate_plausible"),
        Index("ix_lpr_fixing_effective_date", "effective_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    effective_date: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Ratio, doc="annual, as a fraction: 0.03 is 3.00 %")
    source: Mapped[str] = mapped_column(String(200), doc="where the operator read it")
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(AuditSeq, nullable=True, doc="the audit entry of this record")


class LprConfirmation(Base):
    """An operator's word that the LPR table (bundled and recorded fixings) is complete through a date:
    no announced fixing up to that day changed the one-year rate beyond those it holds. Append-only."""

    __tablename__ = "lpr_confirmation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    confirmed_through: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(200), doc="what the operator checked, or why")
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(AuditSeq, nullable=True, doc="the audit entry of this record")
