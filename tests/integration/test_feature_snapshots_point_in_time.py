"""Point in time, through the real ingestion path: whatever the platform reports after T — new orders
(even ones placed before T), payments of old bills, returns, invoices, bills, status changes — the
snapshot at T stays what it was, stored or recomputed."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_engine.trade import service
from scoring import snapshots
from scoring.models import FeatureSnapshot
from tests.factories import make_dealer, make_supplier

T = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # inside a month: the seasonal index is the month's
_dealers = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def base_history(p: str) -> list[dict]:
    """Four orders, four bills (one paid, one part-paid), a return and an invoice, all known before T."""
    def day(text: str) -> str:
        return f"2026-{text}T02:00:00+00:00"

    events = [
        {"type": "order", "external_id": f"{p}-O{n}", "dealer": f"{p}-D", "supplier": "S-PIT",
         "amount": amount, "placed_at": day(placed), "recorded_at": day(placed)}
        for n, (amount, placed) in enumerate(
            [("12000.00", "01-10"), ("8000.00", "02-20"), ("30000.00", "04-05"), ("5000.00", "06-01")], 1)
    ]
    events += [
        {"type": "payment_due", "external_id": f"{p}-B1", "order": f"{p}-O1", "amount": "12000.00",
         "due_on": "2026-03-01", "recorded_at": day("01-10")},
        {"type": "payment_due", "external_id": f"{p}-B2", "order": f"{p}-O2", "amount": "8000.00",
         "due_on": "2026-04-01", "paid_on": "2026-04-03", "recorded_at": day("02-20"),
         "paid_recorded_at": day("04-03")},
        {"type": "payment_due", "external_id": f"{p}-B3", "order": f"{p}-O3", "amount": "30000.00",
         "due_on": "2026-06-05", "recorded_at": day("04-05")},
        {"type": "payment", "external_id": f"{p}-PAY3", "payment_due": f"{p}-B3", "amount": "10000.00",
         "paid_on": "2026-06-04", "recorded_at": day("06-04")},
        {"type": "payment_due", "external_id": f"{p}-B4", "order": f"{p}-O4", "amount": "5000.00",
         "due_on": "2026-07-01", "recorded_at": day("06-01")},
        {"type": "return", "external_id": f"{p}-R1", "order": f"{p}-O3", "amount": "3000.00",
         "returned_at": day("04-20"), "recorded_at": day("04-20")},
    ]
    return events


# what the platform reports after T: (kind, which existing object, business time offset from T in days)
late_event = st.tuples(
    st.sampled_from(["order", "payment", "bill", "return", "invoice", "cancel", "status", "delivery"]),
    st.integers(1, 4),
    st.integers(-150, 40),  # business time relative to T: mostly before it
    st.integers(1, 90 * 24 * 3600),  # recorded this many seconds after T
    st.sampled_from(["1000.00", "2500.00", "12000.00"]),
)


def late_events(p: str, drawn: list[tuple], codes: dict[str, str]) -> list[dict]:
    events = []
    for n, (kind, target, offset, delay, amount) in enumerate(drawn):
        recorded = T + timedelta(seconds=delay)
        when = T + timedelta(days=offset)
        order, ext = f"{p}-O{target}", f"{p}-L{n}"
        common = {"external_id": ext, "recorded_at": iso(recorded)}
        if kind == "order":
            events.append(common | {"type": "order", "dealer": f"{p}-D", "supplier": "S-PIT",
                                    "amount": amount, "placed_at": iso(min(when, recorded))})
        elif kind == "payment":
            events.append(common | {"type": "payment", "payment_due": f"{p}-B{target}", "amount": amount,
                                    "paid_on": when.date().isoformat()})
        elif kind == "bill":
            events.append(common | {"type": "payment_due", "order": order, "amount": amount,
                                    "due_on": when.date().isoformat()})
        elif kind == "return":
            events.append(common | {"type": "return", "order": order, "amount": amount,
                                    "returned_at": iso(min(when, recorded))})
        elif kind == "invoice":
            events.append(common | {"type": "invoice", "order": order, "invoice_code": "044031900111",
                                    "invoice_number": ext[-20:], "seller_credit_code": codes["supplier"],
                                    "buyer_credit_code": codes["dealer"], "amount": amount, "tax": "0.00",
                                    "issued_on": when.date().isoformat()})
        else:
            # a status change takes effect when the engine learns of it: its time is after T too
            # (a back-dated cancellation is the known gap, see the test below)
            at = T + timedelta(seconds=delay // 2 + 1)
            if kind == "delivery":
                events.append(common | {"type": "delivery", "order": order, "delivered_at": iso(at)})
            else:
                status = "cancelled" if kind == "cancel" else "shipped"
                events.append(common | {"type": "order_status", "order": order, "status": status,
                                        "at": iso(at)})
    return events


def onboard(db, p: str) -> tuple[str, dict[str, str]]:
    dealer = make_dealer(db, external_id=f"{p}-D", industry="building_materials")
    with db.unit_of_work() as s:
        from risk_engine.parties.models import Dealer

        s.get(Dealer, dealer.id).onboarded_at = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)
        report = service.ingest_events(s, base_history(p), actor="test")
    assert not report.rejected, report.rejected
    return dealer.id, {"dealer": dealer.credit_code}


@pytest.fixture
def supplier(db):
    return make_supplier(db, external_id="S-PIT")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(late_event, min_size=1, max_size=6), bulk=st.booleans())
def test_events_recorded_after_t_never_change_the_snapshot_at_t(db, supplier, drawn, bulk):
    p = f"PIT{next(_dealers)}"
    dealer_id, codes = onboard(db, p)
    codes["supplier"] = supplier.credit_code
    with db.unit_of_work() as s:
        before = snapshots.snapshot_features(s, dealer_id, T)
        snap_id, digest, body = before.id, before.features_sha256, before.features_json

    with db.unit_of_work() as s:
        ingest = service.ingest_chunk if bulk else service.ingest_events
        ingest(s, late_events(p, drawn, codes), actor="test", ledger=service.Ledger(s))

    with db.unit_of_work() as s:
        stored = s.get(FeatureSnapshot, snap_id)
        assert (stored.features_sha256, stored.features_json) == (digest, body)
        assert snapshots.snapshot_features(s, dealer_id, T).id == snap_id
        recomputed = snapshots.point_in_time_features(s, dealer_id, T)
    assert recomputed == snapshots.snapshot_values(stored)


def test_a_back_dated_cancellation_reported_after_t_does_not_change_the_snapshot_at_t(db, supplier):
    p = "PITX"
    dealer_id, _ = onboard(db, p)
    with db.unit_of_work() as s:
        before = snapshots.point_in_time_features(s, dealer_id, T)
        service.ingest_events(s, [{"type": "order_status", "external_id": f"{p}-C", "order": f"{p}-O3",
                                   "status": "cancelled", "at": iso(T - timedelta(days=30)),
                                   "recorded_at": iso(T + timedelta(days=1))}], actor="test")
        after = snapshots.point_in_time_features(s, dealer_id, T)
    assert after == before
