"""Tables of the HTTP layer: API clients (hashed keys) and stored idempotent responses."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, UTCDateTime, utcnow

ROLES = ("platform", "bank", "risk_officer", "admin")


class ApiClient(Base):
    """A caller of the API. Only the SHA-256 of its key is stored; the key is shown once."""

    __tablename__ = "api_client"
    __table_args__ = (
        CheckConstraint("role IN ('platform', 'bank', 'risk_officer', 'admin')", name="role_known"),
        CheckConstraint("(role = 'bank') = (bank_id IS NOT NULL)", name="bank_binding"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    bank_id: Mapped[str | None] = mapped_column(ForeignKey("bank.id"), nullable=True)
    key_prefix: Mapped[str] = mapped_column(String(16), doc="first characters of the key, for operators")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(Base):
    """The first response to a mutating request with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("client_id", "key", name="uq_idempotency_record_client_key"),
        CheckConstraint("state IN ('in_progress', 'completed')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_client.id"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    response_media_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
