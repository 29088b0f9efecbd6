"""Tables of the credit-line ledger: one line per (dealer, bank), every movement on it, and each bank's
allocated quota.

The CHECK constraints are the last line of defence behind the conditional updates of
``limits.ledger``: even a buggy caller cannot store a negative balance or an unknown status.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import AuditSeq, Base, Money, UTCDateTime, utcnow

LINE_STATUSES = ("active", "frozen", "closed")
MOVEMENT_KINDS = (
    "open",
    "reserve",
    "release",
    "utilise",
    "repay",
    "adjust",
    "renew",
    "freeze",
    "unfreeze",
    "close",
    "reopen",
)


class CreditLineRecord(Base):
    """A dealer's revolving credit line with one bank. ``available = limit − reserved − utilised``."""

    __tablename__ = "credit_line"
    __table_args__ = (
        UniqueConstraint("dealer_id", "bank_id", name="uq_credit_line_dealer_bank"),
        CheckConstraint("limit_amount >= 0", name="limit_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        CheckConstraint("utilised >= 0", name="utilised_non_negative"),
        CheckConstraint("status IN ('active', 'frozen', 'closed')", name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), index=True)
    # "limit" is a reserved word in SQL; the column is limit_amount, the attribute reads as the business says
    limit: Mapped[Decimal] = mapped_column("limit_amount", Money)
    reserved: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    utilised: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(8), default="active")
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    grade: Mapped[str | None] = mapped_column(String(8), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1, doc="incremented by every movement")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def exposure(self) -> Decimal:
        return self.reserved + self.utilised

    @property
    def available(self) -> Decimal:
        return max(self.limit - self.reserved - self.utilised, Decimal("0.00"))


class CreditMovement(Base):
    """One change to a credit line, with the figures before and after and what caused it."""

    __tablename__ = "credit_movement"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('open', 'reserve', 'release', 'utilise', 'repay', 'adjust', 'renew', 'freeze', "
            "'unfreeze', 'close', 'reopen')",
            name="kind_known",
        ),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        Index("ix_credit_movement_line_id", "line_id", "id"),
        Index("ix_credit_movement_cause", "caused_by_type", "caused_by_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("credit_line.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money, doc="the amount moved; the new limit for adjust/open")
    limit_before: Mapped[Decimal] = mapped_column(Money)
    limit_after: Mapped[Decimal] = mapped_column(Money)
    reserved_before: Mapped[Decimal] = mapped_column(Money)
    reserved_after: Mapped[Decimal] = mapped_column(Money)
    utilised_before: Mapped[Decimal] = mapped_column(Money)
    utilised_after: Mapped[Decimal] = mapped_column(Money)
    status_before: Mapped[str] = mapped_column(String(8))
    status_after: Mapped[str] = mapped_column(String(8))
    caused_by_type: Mapped[str] = mapped_column(String(32), doc="decision, review_case, order_loan, event...")
    caused_by_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(
        AuditSeq, nullable=True, doc="the audit entry of this movement"
    )


class BankAllocation(Base):
    """How much of a bank's quota its open lines hold: the sum of the limits of its lines that are not
    closed. Moved only by conditional updates that keep ``allocated ≤ bank.quota`` when it grows."""

    __tablename__ = "bank_allocation"
    __table_args__ = (CheckConstraint("allocated >= 0", name="allocated_non_negative"),)

    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), primary_key=True)
    allocated: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
