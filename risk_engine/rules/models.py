"""The ``rule_set`` table: every version of the policy rules, as data, with who wrote and who approved it.

At most one version is active: a unique index over ``status`` restricted to ``status = 'active'`` (a
partial index, on SQLite and PostgreSQL alike) makes a second active row impossible, whatever the code
does. ``body`` is the rules' canonical JSON and ``digest`` its SHA-256 (``rules.model.ruleset_digest``),
which every decision records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, UTCDateTime, utcnow

RULESET_STATUSES = ("draft", "active", "retired")


class RuleSetRecord(Base):
    __tablename__ = "rule_set"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'retired')", name="status_known"),
        CheckConstraint("approver IS NULL OR approver <> author", name="approver_not_author"),
        CheckConstraint("status = 'draft' OR approver IS NOT NULL", name="approved_before_use"),
        Index(
            "uq_rule_set_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(8), default="draft")
    body: Mapped[str] = mapped_column(Text, doc="canonical JSON: description and rules")
    digest: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the rules' canonical JSON")
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(128))
    approver: Mapped[str | None] = mapped_column(String(128), nullable=True)
    based_on: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="the version this draft copied")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
