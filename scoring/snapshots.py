"""Feature snapshots: the exact vector a decision scored, stored so it can be reproduced and checked.

``snapshot_features(session, dealer_id, as_of)`` computes one dealer's point-in-time features from
the database — only what was recorded before ``as_of`` — and stores them as RFC 8785 canonical JSON
(NaN → null) with the SHA-256 of that text and the catalog version they were computed under. A
snapshot is immutable: asked again for the same dealer, instant and catalog, the stored one is
returned. The decision core reaches all this through ``SnapshotFeatureSource`` (its
``FeatureSource`` port) and records the snapshot's id and hash with the decision.

The seasonally adjusted trend divides each month by its industry's seasonal index, which only the
whole platform can give. It is cached per as-of month in ``industry_seasonality``, computed from
every dealer's orders as of the first instant of that month (China Standard Time):
``refresh_industry_seasonality`` is what a daily job calls; a snapshot whose month has no row yet
computes and stores it. Using the month's start keeps the index point in time and the same for every
snapshot of the month; for an as-of instant inside a month, its "months ago" columns are calendar
months, so they lag the snapshot's own month windows by the days elapsed in the month.

Services only flush: the caller commits the snapshot with the decision that scored it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance import audit
from compliance.audit import canonical_json
from risk_engine.decisions.ports import FeatureVector
from risk_engine.errors import NotFound
from risk_engine.ids import new_id
from risk_engine.trade.frames import load_monthly_purchases, load_trade_frames
from scoring.catalog import CATALOG, FEATURE_NAMES
from scoring.features import (
    CHINA_STANDARD_TIME,
    HISTORY_MONTHS,
    Clock,
    compute_features,
    industry_seasonal_index,
)
from scoring.models import FeatureSnapshot, IndustrySeasonality

SOURCE = "feature_snapshot"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def catalog_version() -> str:
    """SHA-256 of the catalog's names, risk directions and units, in catalog order: a model trained on
    one version must not silently score vectors of another."""
    return _sha256(canonical_json([[s.name, s.direction, s.unit] for s in CATALOG.values()]))


CATALOG_VERSION = catalog_version()


def _instant(as_of: datetime | pd.Timestamp | str) -> datetime:
    ts = pd.Timestamp(as_of)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("us").to_pydatetime()


# --- the industry seasonal index ----------------------------------------------------------------


def month_of(as_of: datetime | pd.Timestamp | str) -> tuple[date, datetime]:
    """The CST month ``as_of`` falls in: its first day and its first instant (UTC)."""
    local = _instant(as_of).astimezone(CHINA_STANDARD_TIME)
    first = local.date().replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)
    return first, start


def _compute_seasonality(session: Session, month: date, start: datetime) -> IndustrySeasonality:
    # the month boundaries exactly as the feature computation draws them (Clock: UTC microseconds)
    boundaries = [datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(us))
                  for us in Clock.at(start).month_starts]
    trade = load_monthly_purchases(session, boundaries)
    table = industry_seasonal_index(trade, start)
    body = canonical_json({str(industry): [float(v) for v in row] for industry, row in table.iterrows()})
    dealers = int((trade.dealers["recorded_at"] < pd.Timestamp(start)).sum())
    return IndustrySeasonality(as_of_month=month, computed_as_of=start, index_json=body,
                               index_sha256=_sha256(body), dealers=dealers)


def refresh_industry_seasonality(session: Session, as_of: datetime | None = None) -> IndustrySeasonality:
    """(Re)compute the seasonal index of ``as_of``'s month (default: now) from all dealers' orders and
    store it — what the daily job calls. Idempotent; it changes the row only if trade recorded before
    the month began was back-filled since, and then records the correction in the audit trail. Flushes;
    the caller commits."""
    month, start = month_of(as_of or datetime.now(UTC))
    fresh = _compute_seasonality(session, month, start)
    row = session.get(IndustrySeasonality, month)
    if row is None:
        session.add(fresh)
        session.flush()
        return fresh
    if row.index_sha256 != fresh.index_sha256:
        # decisions of the month read the stored index: a correction is recorded, old and new digests
        audit.record(session, actor="system:scheduler", action="industry_seasonality.corrected",
                     subject_type="industry_seasonality", subject_id=month.isoformat(),
                     payload={"from_sha256": row.index_sha256, "to_sha256": fresh.index_sha256,
                              "dealers": fresh.dealers})
        row.index_json, row.index_sha256, row.dealers = fresh.index_json, fresh.index_sha256, fresh.dealers
        row.computed_at = datetime.now(UTC)
        session.flush()
    return row


def seasonality_for(session: Session, as_of: datetime) -> IndustrySeasonality:
    """The cached index of ``as_of``'s month; computed and stored when the daily job has not run yet."""
    month, start = month_of(as_of)
    row = session.get(IndustrySeasonality, month)
    if row is not None:
        return row
    row = _compute_seasonality(session, month, start)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another transaction stored it first: theirs is the same figures
        row = session.get(IndustrySeasonality, month, populate_existing=True)
        if row is None:
            raise
    return row


def seasonal_index_frame(row: IndustrySeasonality) -> pd.DataFrame:
    """The stored index as ``scoring.features.industry_seasonal_index`` returns it."""
    table = json.loads(row.index_json)
    return pd.DataFrame.from_dict(table, orient="index", columns=range(HISTORY_MONTHS), dtype=float)


# --- snapshots ------------------------------------------------------------------------------------


def point_in_time_features(session: Session, dealer_id: str, as_of: datetime) -> dict[str, float | None]:
    """The dealer's CATALOG features as of ``as_of``, by name; None where a value is missing."""
    features = features_of_dealers(session, [dealer_id], as_of)
    if dealer_id not in features:
        raise NotFound(f"no dealer {dealer_id}", field="dealer_id")
    return features[dealer_id]


def features_of_dealers(session: Session, dealer_ids: Sequence[str],
                        as_of: datetime) -> dict[str, dict[str, float | None]]:
    """Several dealers' point-in-time features in one read, not stored (unknown ids are left out).
    Its signature is ``loan_monitoring.jobs``' feature reader's: the early-warning job can use it as is."""
    as_of = _instant(as_of)
    wanted = list(dict.fromkeys(dealer_ids))
    trade, ids = load_trade_frames(session, wanted)
    known = [dealer_id for dealer_id in wanted if ids.dealers.get_indexer([dealer_id])[0] >= 0]
    if not known:
        return {}
    index = seasonal_index_frame(seasonality_for(session, as_of))
    frame = compute_features(trade, as_of, dealer_ids=[ids.code(d) for d in known], industry_index=index)
    return {dealer_id: {name: _plain(value) for name, value in zip(FEATURE_NAMES, row, strict=True)}
            for dealer_id, row in zip(known, frame[list(FEATURE_NAMES)].to_numpy(), strict=True)}


def _plain(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def snapshot_features(session: Session, dealer_id: str, as_of: datetime) -> FeatureSnapshot:
    """Compute and store the dealer's features as of ``as_of`` (flushes only), or return the snapshot
    already stored for that dealer, instant and catalog version."""
    as_of = _instant(as_of)
    stored = _stored(session, dealer_id, as_of)
    if stored is not None:
        return stored
    body = canonical_json(point_in_time_features(session, dealer_id, as_of))
    snapshot = FeatureSnapshot(id=new_id("fsn"), dealer_id=dealer_id, as_of=as_of,
                               catalog_version=CATALOG_VERSION, features_json=body,
                               features_sha256=_sha256(body))
    try:
        with session.begin_nested():
            session.add(snapshot)
    except IntegrityError:  # the same snapshot taken concurrently: keep the first
        snapshot = _stored(session, dealer_id, as_of)
        if snapshot is None:
            raise
    return snapshot


def _stored(session: Session, dealer_id: str, as_of: datetime) -> FeatureSnapshot | None:
    return session.scalars(
        select(FeatureSnapshot).where(
            FeatureSnapshot.dealer_id == dealer_id,
            FeatureSnapshot.as_of == as_of,
            FeatureSnapshot.catalog_version == CATALOG_VERSION,
        )
    ).one_or_none()


def snapshot_values(snapshot: FeatureSnapshot) -> dict[str, float | None]:
    """The stored vector, by catalog name, exactly as it was computed (floats round-trip JSON)."""
    values: Mapping[str, float | int | None] = json.loads(snapshot.features_json)
    return {name: None if v is None else float(v) for name, v in values.items()}


def verify_snapshot(snapshot: FeatureSnapshot) -> bool:
    """True when the stored JSON is canonical and still hashes to the stored SHA-256."""
    body = snapshot.features_json
    return _sha256(body) == snapshot.features_sha256 and canonical_json(json.loads(body)) == body


def source_label(snapshot: FeatureSnapshot) -> str:
    return f"{SOURCE};catalog={snapshot.catalog_version[:16]};sha256={snapshot.features_sha256}"


class SnapshotFeatureSource:
    """The decision core's ``FeatureSource``: every request scores a freshly stored snapshot."""

    def features_for(self, session: Session, dealer_id: str, as_of: datetime) -> FeatureVector:
        snapshot = snapshot_features(session, dealer_id, as_of)
        return FeatureVector(
            dealer_id=dealer_id,
            as_of=as_of,
            values=snapshot_values(snapshot),
            snapshot_id=snapshot.id,
            source=source_label(snapshot),
        )
