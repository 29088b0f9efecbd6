"""Decision records and the review queue.

A ``decision`` row is written once and never changed: the outcome, the grade, PD and score, the limit and
the constraint that bound it, and everything needed to reproduce or explain it — the inputs (features,
attributes, limit inputs) as canonical JSON, the model version and artifact hash, the rule-set version
and digest, every rule's result, the explanation, and the audit entry that recorded it.

A referred decision opens a ``review_case``: ``open → assigned → resolved``, or ``assigned →
awaiting_second_approval → resolved`` when the override raises exposure above the second-approval
threshold (the checker is never the maker; a CHECK constraint holds that too). A newer credit-limit
decision for the same dealer and bank closes every credit-limit case still active (open, assigned or
awaiting a second approval) as ``superseded``, naming that decision: its limit and grade are out of date.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import AuditSeq, Base, Money, UTCDateTime, utcnow

DECISION_KINDS = ("credit_limit", "order_loan")
OUTCOMES = ("approve", "refer", "decline")
REVIEW_STATUSES = ("open", "assigned", "awaiting_second_approval", "resolved", "superseded")
ACTIVE_REVIEW_STATUSES = ("open", "assigned", "awaiting_second_approval")  # not yet closed
RESOLUTIONS = ("approve", "decline", "adjust")


class Decision(Base):
    __tablename__ = "decision"
    __table_args__ = (
        CheckConstraint("kind IN ('credit_limit', 'order_loan')", name="kind_known"),
        CheckConstraint("outcome IN ('approve', 'refer', 'decline')", name="outcome_known"),
        CheckConstraint("pd IS NULL OR (pd >= 0 AND pd <= 1)", name="pd_probability"),
        CheckConstraint("limit_amount IS NULL OR limit_amount >= 0", name="limit_non_negative"),
        Index("ix_decision_bank_decided", "bank_id", "decided_at"),
        Index("ix_decision_kind_decided", "kind", "decided_at"),
        Index("ix_decision_dealer_decided", "dealer_id", "decided_at"),
        # the banks' polling cursor: audit sequence numbers are handed out in commit order
        Index("ix_decision_bank_audit_seq", "bank_id", "audit_seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"))
    request_ref: Mapped[str | None] = mapped_column(
        String(64), nullable=True, doc="the platform's request id"
    )
    requested_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    outcome: Mapped[str] = mapped_column(String(8))
    model_grade: Mapped[str | None] = mapped_column(String(8), nullable=True, doc="the model's grade")
    grade: Mapped[str | None] = mapped_column(String(8), nullable=True, doc="after the overlays' notches")
    pd: Mapped[Decimal | None] = mapped_column(Numeric(12, 10, asdecimal=True), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    limit: Mapped[Decimal | None] = mapped_column(
        "limit_amount", Money, nullable=True, doc="granted (approve), proposed (refer), 0 (decline)"
    )
    binding_constraint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason_codes: Mapped[str] = mapped_column(
        Text, default="[]", doc="JSON list of the codes behind the outcome"
    )
    inputs: Mapped[str] = mapped_column(Text, doc="canonical JSON: features, attributes, limit inputs, model")
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ruleset_version: Mapped[int] = mapped_column(Integer)
    ruleset_digest: Mapped[str] = mapped_column(String(64))
    rule_results: Mapped[str] = mapped_column(Text, doc="canonical JSON: the rule outcome with every result")
    explanation: Mapped[str] = mapped_column(
        Text, doc="canonical JSON: reasons, contributions, limit candidates"
    )
    document_sha256: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the decision document (JCS)")
    line_id: Mapped[str | None] = mapped_column(String(32), nullable=True, doc="the credit line it changed")
    audit_seq: Mapped[int | None] = mapped_column(AuditSeq, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str] = mapped_column(String(128), doc="the client that asked")


class ReviewCase(Base):
    __tablename__ = "review_case"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'assigned', 'awaiting_second_approval', 'resolved', 'superseded')",
            name="status_known",
        ),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('approve', 'decline', 'adjust')", name="resolution_known"
        ),
        CheckConstraint(
            "second_approver IS NULL OR second_approver <> proposed_by", name="checker_not_maker"
        ),
        CheckConstraint(
            "status <> 'resolved' OR (resolution IS NOT NULL AND reason IS NOT NULL)",
            name="resolved_with_reason",
        ),
        CheckConstraint(
            "status <> 'superseded' OR superseded_by IS NOT NULL", name="superseded_names_decision"
        ),
        Index("ix_review_case_status_opened", "status", "opened_at"),
        Index("ix_review_case_bank_status", "bank_id", "status"),
        Index("ix_review_case_dealer_bank_status", "dealer_id", "bank_id", "status"),
        # a bank polls the resolutions of its cases in commit order
        Index("ix_review_case_bank_resolution_seq", "bank_id", "resolution_audit_seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decision.id"), unique=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"))
    status: Mapped[str] = mapped_column(String(24), default="open")
    proposed_limit: Mapped[Decimal | None] = mapped_column(Money, nullable=True, doc="the decision's limit")
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # an override waiting for the checker
    pending_resolution: Mapped[str | None] = mapped_column(String(8), nullable=True)
    pending_limit: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    pending_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    proposed_by: Mapped[str | None] = mapped_column(
        String(128), nullable=True, doc="the maker of the override"
    )
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the outcome
    resolution: Mapped[str | None] = mapped_column(String(8), nullable=True)
    resolved_limit: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution_audit_seq: Mapped[int | None] = mapped_column(
        AuditSeq, nullable=True, doc="the audit entry of the resolution (review.resolved): the banks' cursor")
    second_approver: Mapped[str | None] = mapped_column(String(128), nullable=True)
    second_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    line_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(
        ForeignKey("decision.id"), nullable=True, doc="the newer credit-limit decision that closed the case"
    )
