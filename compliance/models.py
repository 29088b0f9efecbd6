"""Tables of the compliance domain: the audit trail and its signed checkpoints, consents, the access log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, UTCDateTime, utcnow

CONSENT_PURPOSES = ("credit_scoring", "data_sharing_with_bank", "loan_monitoring")
ACCESS_OUTCOMES = ("granted", "denied", "not_found")


class AuditEntry(Base):
    """One link of the hash chain. Never updated or deleted by the application.

    ``entry_hash`` = SHA-256 over the RFC 8785 canonical JSON of every other column (with
    ``prev_hash``), so changing, deleting, inserting or reordering any entry breaks the chain.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_subject", "subject_type", "subject_id"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, doc="RFC 8785 canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """A signed tree head: the RFC 9162 root of the first ``tree_size`` audit entries, signed as a JWS.

    The columns repeat what the JWS says, for querying; the JWS is the statement that counts and
    ``risk-engine audit verify`` checks that the two agree.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (CheckConstraint("tree_size >= 0", name="tree_size_non_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), unique=True)
    root_hash: Mapped[str] = mapped_column(String(64), doc="hex SHA-256")
    timestamp_ms: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                              doc="the signed timestamp, ms since the Unix epoch")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(64), doc="the signing key (RFC 7638 thumbprint)")
    jws: Mapped[str] = mapped_column(Text, doc="compact JWS, typ tree-head+jws")


class DealerConsent(Base):
    """A dealer's consent to one purpose of processing (PIPL Art. 13/14), with its evidence."""

    __tablename__ = "dealer_consent"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('credit_scoring', 'data_sharing_with_bank', 'loan_monitoring')", name="purpose_known"
        ),
        CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name="expiry_after_grant"),
        Index("ix_dealer_consent_dealer_purpose", "dealer_id", "purpose"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(Text, doc="what data, for what use, shared with whom")
    evidence_ref: Mapped[str] = mapped_column(String(256), doc="where the signed consent is kept")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(128))


class AccessLogEntry(Base):
    """Who read personal data or pulled a report, when, and what (PIPL Art. 51, DSL Art. 29)."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint("outcome IN ('granted', 'denied', 'not_found')", name="outcome_known"),
        Index("ix_access_log_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    accessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    client_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="granted")
    purpose: Mapped[str | None] = mapped_column(String(128), nullable=True)
    path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}", doc="RFC 8785 canonical JSON; never PII")
