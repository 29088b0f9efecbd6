"""The parties of supply-chain finance: partner banks (with their product), dealers, suppliers,
guarantee institutions. Money columns are exact decimals (``Money``)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, Money, Ratio, UTCDateTime, utcnow


class Bank(Base):
    """A partner bank and the parameters of its order-loan / credit-line product."""

    __tablename__ = "bank"
    __table_args__ = (
        CheckConstraint("quota >= 0", name="quota_non_negative"),
        CheckConstraint("loan_to_order_ratio > 0 AND loan_to_order_ratio <= 1", name="ltor_range"),
        CheckConstraint("min_tenor_days > 0 AND min_tenor_days <= max_tenor_days", name="tenor_range"),
        CheckConstraint("apr >= 0", name="apr_non_negative"),
        CheckConstraint("max_line_amount > 0", name="max_line_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    quota: Mapped[Decimal] = mapped_column(Money, doc="total credit the bank will extend on the platform")
    loan_to_order_ratio: Mapped[Decimal] = mapped_column(Ratio)
    min_tenor_days: Mapped[int] = mapped_column(Integer)
    max_tenor_days: Mapped[int] = mapped_column(Integer)
    apr: Mapped[Decimal] = mapped_column(Ratio, doc="all-in annual rate of the product, e.g. 0.0650")
    max_line_amount: Mapped[Decimal] = mapped_column(Money, doc="product cap on one dealer's line")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Guarantor(Base):
    """A financing guarantee company; its capacity is regulated (DOMAIN.md)."""

    __tablename__ = "guarantor"
    __table_args__ = (
        CheckConstraint("net_assets > 0", name="net_assets_positive"),
        CheckConstraint("leverage_cap > 0", name="leverage_cap_positive"),
        CheckConstraint("single_client_cap > 0 AND single_client_cap <= 1", name="single_cap_range"),
        CheckConstraint("related_party_cap >= single_client_cap AND related_party_cap <= 1",
                        name="related_cap_range"),
        CheckConstraint("coverage_ratio > 0 AND coverage_ratio <= 1", name="coverage_range"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    net_assets: Mapped[Decimal] = mapped_column(Money)
    serves_small_firms: Mapped[bool] = mapped_column(Boolean, default=False)
    leverage_cap: Mapped[Decimal] = mapped_column(Ratio, doc="total guarantees <= leverage_cap x net assets")
    single_client_cap: Mapped[Decimal] = mapped_column(Ratio, doc="one client <= this share of net assets")
    related_party_cap: Mapped[Decimal] = mapped_column(Ratio, doc="client and related parties <= this share")
    coverage_ratio: Mapped[Decimal] = mapped_column(Ratio, doc="share of a dealer's exposure it guarantees")
    guarantee_expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    controlling_parties: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'"),
        doc="unified social credit codes of its controlling shareholder(s) and actual controller: it may not "
            "guarantee them (融资担保公司监督管理条例 Art. 17)")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dealer(Base):
    """A dealer (经销商) buying on the platform: the borrower."""

    __tablename__ = "dealer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True,
                                                     doc="the platform's own id for the dealer")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64), nullable=True)
    industry: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered_on: Mapped[date] = mapped_column(Date, doc="business registration (start) date")
    licence_expires_on: Mapped[date | None] = mapped_column(Date, nullable=True, doc="null: long-term")
    onboarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    guarantor_id: Mapped[str | None] = mapped_column(ForeignKey("guarantor.id"), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)

    # Personal data, only ever stored as compliance.fieldcrypt tokens (AES-256-GCM bound to table, column,
    # row and key id); the *_index columns are blind indexes (HMAC) for exact-match lookups.
    legal_rep_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    legal_rep_id_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    legal_rep_id_number_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    legal_rep_phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    account_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    account_number_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    erased_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="personal data erased; credit records kept under the dealer id")


class Supplier(Base):
    """A supplier selling on the platform; in an order loan the bank pays it directly."""

    __tablename__ = "supplier"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(64), nullable=True)
    whitelisted: Mapped[bool] = mapped_column(Boolean, default=False)
    onboarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    account_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True,
                                                           doc="settlement account, fieldcrypt token")
    account_number_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
