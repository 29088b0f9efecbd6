from datetime import UTC, datetime

import pytest

from risk_engine.trade import service
from risk_engine.trade.frames import load_trade_frames
from scoring.features import compute_features
from tests.factories import make_dealer, make_supplier


def test_stored_trade_becomes_point_in_time_features(db):
    dealer = make_dealer(db, external_id="D-1")
    make_supplier(db, external_id="S-1")
    events = []
    for month in range(1, 7):
        events.append({"type": "order", "external_id": f"O-{month}", "dealer": "D-1", "supplier": "S-1",
                       "amount": "1000.50", "placed_at": f"2026-0{month}-05T02:00:00Z",
                       "recorded_at": f"2026-0{month}-05T02:00:00Z", "status": "placed"})
        events.append({"type": "payment_due", "external_id": f"B-{month}", "order": f"O-{month}",
                       "amount": "1000.50", "due_on": f"2026-0{month}-25", "paid_on": f"2026-0{month}-28",
                       "recorded_at": f"2026-0{month}-05T02:00:00Z",
                       "paid_recorded_at": f"2026-0{month}-28T02:00:00Z"})
    with db.unit_of_work() as s:
        from risk_engine.parties.models import Dealer

        s.get(Dealer, dealer.id).onboarded_at = datetime(2025, 12, 1, tzinfo=UTC)
    with db.unit_of_work() as s:
        report = service.ingest_events(s, events, actor="test")
    assert not report.rejected, report.rejected
    with db.session() as s:
        frames, ids = load_trade_frames(s, [dealer.id])
    feats = compute_features(frames, datetime(2026, 7, 1, tzinfo=UTC))
    row = feats.loc[ids.code(dealer.id)]
    assert row["purchase_amount_3m"] == pytest.approx(3 * 1000.50)
    early = compute_features(frames, datetime(2026, 3, 1, tzinfo=UTC)).loc[ids.code(dealer.id)]
    assert early["purchase_amount_3m"] == pytest.approx(2 * 1000.50)
