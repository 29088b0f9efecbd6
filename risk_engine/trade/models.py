"""The platform's trade, as the engine receives it: orders and their milestones, bills and
payments, invoices, deliveries, returns, and related-party links between dealers and suppliers.

Every row carries the platform's ``external_id`` and ``recorded_at`` (when the engine learned of
it), so features as of a date T can be computed from what was known before T. ``trade_event``
keeps one line per ingested event with the hash of its content: a re-sent identical event is a
no-op, a re-sent id with different content is refused.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, Money, UTCDateTime

ORDER_STATUSES = ("placed", "confirmed", "shipped", "delivered", "cancelled", "returned")
RELATION_KINDS = ("shared_owner", "legal_representative", "address", "account")
EVENT_KINDS = ("order", "order_status", "payment_due", "payment", "invoice", "delivery", "return",
               "related_party")


class TradeEvent(Base):
    __tablename__ = "trade_event"
    __table_args__ = (UniqueConstraint("kind", "external_id", name="uq_trade_event_kind_external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(32), doc="the row the event created or changed")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    __tablename__ = "trade_order"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('placed','confirmed','shipped','delivered','cancelled','returned')",
                        name="status_known"),
        Index("ix_trade_order_dealer_placed", "dealer_id", "placed_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("supplier.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_recorded_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="when the engine learned of the cancellation (it may be back-dated)")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentDue(Base):
    """A bill: what the dealer owes the supplier for an order, and when; settled by payments."""

    __tablename__ = "payment_due"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("paid_amount >= 0", name="paid_non_negative"),
        Index("ix_payment_due_dealer_due", "dealer_id", "due_on"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("trade_order.id"), index=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    due_on: Mapped[date] = mapped_column(Date)
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    paid_on: Mapped[date | None] = mapped_column(Date, nullable=True, doc="date the bill was fully paid")
    paid_recorded_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="when the engine learned the bill was fully paid")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    payment_due_id: Mapped[str] = mapped_column(ForeignKey("payment_due.id"), index=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invoice(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("invoice_code", "invoice_number", name="uq_invoice_code_number"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("tax >= 0", name="tax_non_negative"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("trade_order.id"), index=True)
    invoice_code: Mapped[str] = mapped_column(String(20))
    invoice_number: Mapped[str] = mapped_column(String(20))
    seller_credit_code: Mapped[str] = mapped_column(String(18))
    buyer_credit_code: Mapped[str] = mapped_column(String(18))
    amount: Mapped[Decimal] = mapped_column(Money, doc="amount excluding tax")
    tax: Mapped[Decimal] = mapped_column(Money)
    issued_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    __tablename__ = "delivery"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("trade_order.id"), index=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    carrier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Return(Base):
    __tablename__ = "trade_return"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("trade_order.id"), index=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RelatedPartyLink(Base):
    __tablename__ = "related_party_link"
    __table_args__ = (
        UniqueConstraint("dealer_id", "supplier_id", "kind", name="uq_related_party_link_pair_kind"),
        CheckConstraint("kind IN ('shared_owner','legal_representative','address','account')",
                        name="kind_known"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"), index=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("supplier.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
