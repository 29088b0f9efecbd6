"""The early-warning job reads the dealers' trade features a batch at a time (``features_of_dealers``, as
the scheduler wires it): on a small history it raises the alerts the per-dealer reads (one stored
feature snapshot per dealer, how the scheduler read them before) raised, from the same point-in-time
figures, and stores no feature snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from sqlalchemy import func, select

from loan_monitoring import alerting, jobs
from loan_monitoring.dates import BEIJING
from risk_engine.parties.models import Dealer
from risk_engine.settings import Settings
from scoring import snapshots
from scoring.catalog import FEATURE_NAMES
from scoring.jobs import early_warning_reads_trade_features
from scoring.models import FeatureSnapshot
from tests.factories import make_bank, make_dealer, make_supplier
from tests.loan_factories import ingest, open_line

SETTINGS = Settings(env="test")
TIGHT = 1e-12  # batched and single reads may sum in another order: the last binary digit can differ
AS_OF = datetime.combine(datetime.now(BEIJING).date() - timedelta(days=3), time(1, 30), BEIJING).astimezone(UTC)
LATE = AS_OF + timedelta(days=1)  # recorded after the job's as-of: never part of its figures
# What the job itself computes (from the engine's rows) and puts over the trade features.
ENGINE_FIGURES = {"licence_months_remaining"}


def _day(days_before: float) -> datetime:
    return AS_OF - timedelta(days=days_before)


def _dealer_history(n: int, dealer: Dealer, suppliers: list[Any]) -> list[dict]:
    """Twelve months of orders, bills and returns, shaped per dealer so each raises other signals:
    0 falling purchases, 1 bills past due, 2 one supplier, 3 payments later and later, 4 returns."""
    events: list[dict] = []
    for month in range(12):
        placed = _day(30.4 * month + 9 + n)
        amount = Decimal(10_000 + 1_337 * n + 211 * month * (n + 1)) + Decimal("0.37") * month
        if n == 0 and month < 3:
            amount = (amount * Decimal("0.3")).quantize(Decimal("0.01"))
        supplier = suppliers[0] if n == 2 or month % 3 else suppliers[1 + (month + n) % 2]
        order = f"O-{n}-{month}"
        recorded = placed + timedelta(minutes=7)
        events.append({"type": "order", "external_id": order, "dealer": dealer.id, "supplier": supplier.id,
                       "amount": str(amount), "placed_at": placed.isoformat(), "status": "confirmed",
                       "confirmed_at": (placed + timedelta(hours=1)).isoformat(),
                       "recorded_at": recorded.isoformat()})
        due = (placed + timedelta(days=20)).astimezone(BEIJING).date()
        bill: dict[str, Any] = {"type": "payment_due", "external_id": f"P-{n}-{month}", "order": order,
                                "amount": str(amount), "due_on": due.isoformat(),
                                "recorded_at": recorded.isoformat()}
        late_days = {1: 0 if month > 2 else None, 3: 25 if month < 3 else 1}.get(n, month % 3)
        paid_on = None if late_days is None else due + timedelta(days=late_days)
        if paid_on is not None and paid_on < AS_OF.astimezone(BEIJING).date():
            bill |= {"paid_on": paid_on.isoformat(),
                     "paid_recorded_at": datetime.combine(paid_on, time(18), BEIJING).isoformat()}
        events.append(bill)
        if n == 4 and month < 3 or n == 3 and month == 7:
            returned = placed + timedelta(days=5)
            events.append({"type": "return", "external_id": f"R-{n}-{month}", "order": order,
                           "amount": str((amount * Decimal("0.4")).quantize(Decimal("0.01"))),
                           "returned_at": returned.isoformat(), "recorded_at": returned.isoformat()})
    if n == 0:  # a big order placed before the as-of but only recorded after it
        placed = _day(2)
        events.append({"type": "order", "external_id": "O-0-late", "dealer": dealer.id,
                       "supplier": suppliers[1].id, "amount": "900000.00", "placed_at": placed.isoformat(),
                       "recorded_at": LATE.isoformat()})
    return events


@pytest.fixture
def watched_dealers(db) -> list[str]:
    """Seven dealers with a credit line (so the job watches them): five with shaped trade, one whose
    licence ran out, one without any trade."""
    bank = make_bank(db)
    suppliers = [make_supplier(db) for _ in range(3)]
    dealers = [make_dealer(db) for _ in range(7)]
    with db.unit_of_work() as s:
        for dealer in dealers:
            s.get(Dealer, dealer.id).onboarded_at = _day(700)
        s.get(Dealer, dealers[5].id).licence_expires_on = AS_OF.astimezone(BEIJING).date() - timedelta(days=5)
    for n, dealer in enumerate(dealers[:5]):
        ingest(db, *_dealer_history(n, dealer, suppliers))
    for dealer in dealers:
        open_line(db, dealer, bank, "300000.00")
    return [dealer.id for dealer in dealers]


def per_dealer_reader(session, dealer_ids, as_of):
    """The scheduler's reader before batching: a stored snapshot per dealer (flushed, never committed)."""
    return {d: snapshots.snapshot_values(snapshots.snapshot_features(session, d, as_of)) for d in dealer_ids}


@pytest.fixture
def raised(monkeypatch) -> list[Any]:
    """Every alert the job hands to ``alerting.raise_alerts``, in order."""
    seen: list[Any] = []
    through = alerting.raise_alerts

    def spy(session, alerts, **kwargs):
        seen.extend(alerts)
        return through(session, alerts, **kwargs)

    monkeypatch.setattr(alerting, "raise_alerts", spy)
    return seen


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(jobs, "BATCH", 3)  # seven dealers: batches of 3, 3 and 1


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def assert_close(batched: Any, single: Any, where: str = "evidence") -> None:
    """Equal, numbers (also as decimal strings) to a relative TIGHT."""
    if isinstance(batched, dict) and isinstance(single, dict):
        assert batched.keys() == single.keys(), where
        for key in batched:
            assert_close(batched[key], single[key], f"{where}.{key}")
        return
    a, b = _number(batched), _number(single)
    if a is not None and b is not None:
        assert float(a) == pytest.approx(float(b), rel=TIGHT, abs=TIGHT), where
    else:
        assert batched == single, where


def _finding(alert: Any) -> tuple:
    return alert.dedup_key, alert.kind, alert.severity, tuple(alert.actions)


def test_batched_reads_raise_the_alerts_the_per_dealer_reads_raised(db, watched_dealers, raised, small_batches):
    jobs.register_feature_reader(per_dealer_reader)
    try:
        single = jobs.daily_early_warning(db, as_of=AS_OF, settings=SETTINGS)
    finally:
        jobs.unregister_feature_reader(per_dealer_reader)
    by_dealer_reads, raised[:] = list(raised), []

    with early_warning_reads_trade_features():
        batched = jobs.daily_early_warning(db, as_of=AS_OF, settings=SETTINGS)

    kinds = {alert.kind for alert in by_dealer_reads}
    assert {"purchase_volume_drop", "trade_payments_past_due", "supplier_concentration",
            "payment_delays_rising", "return_spike", "licence_expiring"} <= kinds
    assert single["dealers"] == batched["dealers"] == 7 and single["lines_frozen"] == 1
    # the same findings again: every open alert seen once more, none new, none more severe
    assert (batched["new"], batched["escalated"], batched["lines_frozen"]) == (0, 0, 0)
    assert batched["suppressed"] == single["new"] == len(by_dealer_reads)
    assert batched["unavailable"] == single["unavailable"]
    assert [_finding(a) for a in raised] == [_finding(a) for a in by_dealer_reads]
    for mine, theirs in zip(raised, by_dealer_reads, strict=True):
        assert_close(dict(mine.evidence), dict(theirs.evidence), mine.dedup_key)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FeatureSnapshot)) == 0  # nothing stored, nothing left


def test_the_batched_job_uses_the_per_dealer_point_in_time_figures(db, watched_dealers, small_batches,
                                                                    monkeypatch):
    used: dict[str, dict[str, Any]] = {}
    through = jobs.early_warning_signals

    def spy(dealer_id, features, *args, **kwargs):
        used[dealer_id] = dict(features)
        return through(dealer_id, features, *args, **kwargs)

    monkeypatch.setattr(jobs, "early_warning_signals", spy)
    with early_warning_reads_trade_features():
        jobs.daily_early_warning(db, as_of=AS_OF, settings=SETTINGS)

    assert sorted(used) == sorted(watched_dealers)
    with db.session() as s:
        for dealer_id in watched_dealers:
            one = snapshots.snapshot_values(snapshots.snapshot_features(s, dealer_id, AS_OF))
            for name in set(FEATURE_NAMES) - ENGINE_FIGURES:
                value, expected = used[dealer_id].get(name), one[name]
                if expected is None:
                    assert value is None, (dealer_id, name)
                else:
                    assert value == pytest.approx(expected, rel=TIGHT, abs=TIGHT), (dealer_id, name)
        s.rollback()
        # the figures are those known at the job's as-of: the order recorded a day later is not in them
        later = snapshots.features_of_dealers(s, [watched_dealers[0]], LATE + timedelta(seconds=1))
        s.rollback()
    first = used[watched_dealers[0]]
    assert later[watched_dealers[0]]["purchase_count_3m"] == first["purchase_count_3m"] + 1
    assert first["purchase_trend_3m"] <= -30  # what raised its purchase_volume_drop
