"""Tables of the scoring domain.

* ``feature_snapshot`` — the exact feature vector a decision scored: one dealer, one as-of instant,
  one catalog version, stored as canonical JSON with its SHA-256 so the vector can be reproduced and
  checked byte for byte (``scoring.snapshots``).
* ``industry_seasonality`` — the platform-wide seasonal index per industry, cached per as-of month
  (it needs every dealer's orders, a single dealer's snapshot must not recompute it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, UTCDateTime, utcnow


class FeatureSnapshot(Base):
    """A dealer's point-in-time features as of ``as_of``, computed from what was recorded before it."""

    __tablename__ = "feature_snapshot"
    __table_args__ = (
        # also the index for "this dealer's snapshots by date"
        UniqueConstraint(
            "dealer_id", "as_of", "catalog_version", name="uq_feature_snapshot_dealer_as_of_catalog"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id"))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    catalog_version: Mapped[str] = mapped_column(
        String(64), doc="SHA-256 of the catalog's names, directions and units, in order"
    )
    features_json: Mapped[str] = mapped_column(Text, doc="RFC 8785 canonical JSON, name -> number or null")
    features_sha256: Mapped[str] = mapped_column(String(64), doc="SHA-256 of features_json (UTF-8)")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndustrySeasonality(Base):
    """The seasonal index of every industry, computed from all dealers' orders as of the first instant
    of ``as_of_month`` (China Standard Time); used by every snapshot taken during that month."""

    __tablename__ = "industry_seasonality"

    as_of_month: Mapped[date] = mapped_column(Date, primary_key=True, doc="first day of the CST month")
    computed_as_of: Mapped[datetime] = mapped_column(UTCDateTime, doc="the month's first instant, UTC")
    index_json: Mapped[str] = mapped_column(
        Text, doc="canonical JSON: industry -> 12 factors, months ago 0..11"
    )
    index_sha256: Mapped[str] = mapped_column(String(64))
    dealers: Mapped[int] = mapped_column(Integer, doc="dealers known at computed_as_of")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
