"""The platform as the engine would know it at an instant: what was recorded before it, and of each
record only the milestones that had happened by then.

The demo generates whole months; the seed cuts the history at "now", so a decision taken today sees
today's state (bills due last week and not yet paid are really past due; orders still in transit are
really undelivered), not a month-end extract three weeks stale.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from risk_engine.demo.synthetic import Platform

_ORDER_STATUS = [("returned_at", "returned"), ("cancelled_at", "cancelled"), ("delivered_at", "delivered"),
                 ("shipped_at", "shipped"), ("confirmed_at", "confirmed")]


def _cut(frame: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Rows recorded before ``at``; later instants and dates in them become missing."""
    kept = frame[frame["recorded_at"] < at].copy() if "recorded_at" in frame else frame.copy()
    day = at.tz_convert("Asia/Shanghai").tz_localize(None).normalize()
    for column in kept.columns:
        dtype = kept[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype) and column != "recorded_at":
            kept[column] = kept[column].where(kept[column] < at)
        elif pd.api.types.is_datetime64_dtype(dtype) and column.endswith("_on") and column not in (
                "registered_on", "licence_expires_on", "due_on", "onboarded_on", "issued_on"):
            kept[column] = kept[column].where(kept[column] < day)
    return kept


def as_known_at(platform: Platform, at: pd.Timestamp) -> Platform:
    at = pd.Timestamp(at).tz_convert("UTC") if pd.Timestamp(at).tzinfo else pd.Timestamp(at).tz_localize("UTC")
    tables = {name: _cut(frame, at) for name, frame in platform.tables().items()}
    orders = tables["orders"]
    status = pd.Series("placed", index=orders.index, dtype=object)
    for column, name in reversed(_ORDER_STATUS):
        status = status.where(orders[column].isna(), name)
    orders["status"] = status
    payments = tables["payments"]
    unpaid = payments["paid_on"].isna() | payments["paid_recorded_at"].isna()
    payments.loc[unpaid, ["paid_on", "paid_recorded_at"]] = pd.NaT
    loans = tables["loans"]
    unrepaid = loans["repaid_on"].isna() | loans["repaid_recorded_at"].isna()
    loans.loc[unrepaid, ["repaid_on", "repaid_recorded_at"]] = pd.NaT
    deliveries = tables["deliveries"]
    tables["deliveries"] = deliveries[deliveries["delivered_at"].notna()]
    return replace(platform, **tables, observed_until=min(platform.observed_until, at))
