"""Feature snapshots from the database: the hand-made history of ``tests/unit/features/history.py``
stored through ``POST /v1/events`` (and the ledger and loan tables) gives the same vector, to the
bit, as the in-memory computation, and its golden figures; the snapshot is stored as canonical JSON
with its hash; the industry seasonal index is cached per month."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from limits import ledger
from limits.models import CreditMovement
from loan_monitoring.models import Disbursement, OrderLoan, Repayment
from risk_engine.decisions import service as decisions
from risk_engine.decisions.ports import FeatureSource, FeatureVector
from risk_engine.decisions.schemas import CreditLimitRequestIn
from risk_engine.errors import NotFound
from risk_engine.parties.models import Dealer
from risk_engine.trade.models import Order
from scoring import snapshots
from scoring.catalog import FEATURE_NAMES
from scoring.features import compute_features, industry_seasonal_index
from scoring.models import FeatureSnapshot, IndustrySeasonality
from tests.decision_support import tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer, make_supplier
from tests.unit.features import history as hand

AS_OF = hand.AS_OF.to_pydatetime()  # 2026-07-01 00:00 China Standard Time: a month's first instant
MONTH = 30.4375


def approx(value):
    return pytest.approx(value, rel=1e-6)


def cst(text: str) -> str:
    return f"{text.replace(' ', 'T')}:00+08:00"


def money(yuan: float) -> str:
    return f"{Decimal(yuan):.2f}"


def fen_to_yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


# --- the hand-made history as platform events --------------------------------------------------

ORDERS = [  # external id, dealer, supplier, yuan, placed, recorded (CST)
    ("O-1", "D-1", "S-1", 10_000, "2025-08-10 10:00", "2025-08-10 10:01"),
    ("O-2", "D-1", "S-1", 20_000, "2026-02-15 10:00", "2026-02-15 10:01"),
    ("O-3", "D-1", "S-2", 10_000, "2026-03-05 10:00", "2026-03-05 10:01"),
    ("O-4", "D-1", "S-1", 30_000, "2026-04-20 10:00", "2026-04-20 10:01"),
    ("O-5", "D-1", "S-2", 10_000, "2026-06-10 10:00", "2026-06-10 10:01"),
    ("O-6", "D-1", "S-1", 50_000, "2026-06-20 10:00", "2026-06-20 10:01"),  # cancelled below
    ("O-7", "D-1", "S-1", 99_999, "2026-06-25 10:00", "2026-07-02 10:00"),  # recorded after as-of
    ("Q-1", "D-2", "S-1", 5_000, "2026-04-05 10:00", "2026-04-05 10:01"),
    ("Q-2", "D-2", "S-1", 5_000, "2026-06-01 10:00", "2026-06-01 10:01"),
]
BILLS = [  # external id, order, due, recorded, settled in the bill itself (paid on, recorded)
    ("P-1", "O-1", "2026-02-01", "2026-01-01 10:00", None),  # paid by PAY-1
    ("P-2", "O-3", "2026-04-10", "2026-03-10 10:00", ("2026-04-15", "2026-04-16 10:00")),
    ("P-3", "O-4", "2026-05-20", "2026-04-20 10:00", None),  # paid by PAY-3, reported after as-of
    ("P-4", "O-4", "2026-06-15", "2026-05-15 10:00", None),
    ("P-5", "O-1", "2025-09-01", "2025-08-17 10:00", ("2025-09-11", "2025-09-12 10:00")),
    ("P-6", "O-5", "2026-07-05", "2026-06-17 10:00", None),
    ("P-7", "O-4", "2026-06-01", "2026-07-02 10:00", None),
]
RETURNS = [  # order, yuan, returned, recorded
    ("O-4", 3_000, "2026-04-25 10:00", "2026-04-25 11:00"),
    ("O-2", 2_000, "2026-02-20 10:00", "2026-02-20 11:00"),
    ("O-5", 1_000, "2026-06-28 10:00", "2026-07-03 11:00"),
]
INVOICES = [  # external id, order, seller, buyer, gross yuan, issued
    ("I-1", "O-4", "S-1", "D-1", 27_000, "2026-05-01"),
    ("I-2", "O-5", "S-2", "D-2", 10_000, "2026-06-15"),  # the wrong buyer
    ("I-3", "O-2", "S-1", "D-1", 18_000, "2026-02-25"),
    ("I-4", "O-3", "S-2", "D-1", 10_000, "2026-02-28"),  # before its order: refused at ingestion
    ("I-5", "O-1", "S-2", "D-1", 10_000, "2025-08-20"),  # the wrong seller
]


def history_events(codes: dict[str, str]) -> list[dict]:
    events: list[dict] = []
    for ext, dealer, supplier, yuan, placed, recorded in ORDERS:
        events.append({"type": "order", "external_id": ext, "dealer": dealer, "supplier": supplier,
                       "amount": money(yuan), "placed_at": cst(placed), "recorded_at": cst(recorded)})
    events.append({"type": "order_status", "external_id": "C-6", "order": "O-6", "status": "cancelled",
                   "at": cst("2026-06-22 09:00"), "recorded_at": cst("2026-06-22 09:00")})
    for ext, order, due, recorded, settled in BILLS:
        bill = {"type": "payment_due", "external_id": ext, "order": order, "amount": "1000.00", "due_on": due,
                "recorded_at": cst(recorded)}
        if settled:
            bill |= {"paid_on": settled[0], "paid_recorded_at": cst(settled[1])}
        events.append(bill)
    events.append({"type": "payment", "external_id": "PAY-1", "payment_due": "P-1", "amount": "1000.00",
                   "paid_on": "2026-01-30", "recorded_at": cst("2026-01-31 10:00")})
    events.append({"type": "payment", "external_id": "PAY-3", "payment_due": "P-3", "amount": "1000.00",
                   "paid_on": "2026-06-29", "recorded_at": cst("2026-07-02 10:00")})
    for n, (order, yuan, returned, recorded) in enumerate(RETURNS, 1):
        events.append({"type": "return", "external_id": f"R-{n}", "order": order, "amount": money(yuan),
                       "returned_at": cst(returned), "recorded_at": cst(recorded)})
    for ext, order, seller, buyer, gross, issued in INVOICES:
        net = round(gross * 100 / 1.13)
        events.append({"type": "invoice", "external_id": ext, "order": order, "invoice_code": "044031900111",
                       "invoice_number": f"0000000{ext[-1]}", "seller_credit_code": codes[seller],
                       "buyer_credit_code": codes[buyer], "amount": fen_to_yuan(net),
                       "tax": fen_to_yuan(gross * 100 - net), "issued_on": issued,
                       "recorded_at": cst(f"{issued} 12:00")})
    return events


def at(text: str) -> datetime:
    return hand.at(text).to_pydatetime()


def store_credit_history(db, dealer_id: str, bank_id: str, orders: dict[str, str]) -> None:
    """The hand-made credit line and order loans, as the engine would have recorded them then."""
    with db.unit_of_work() as s:
        line = ledger.open_line(s, dealer_id=dealer_id, bank_id=bank_id, limit=Decimal("100000.00"),
                                cause=ledger.Cause("test", "line"), actor="test")
        s.execute(update(CreditMovement).where(CreditMovement.line_id == line.id)
                  .values(at=at("2025-12-15 10:00")))
        loans = [  # order, yuan, disbursed, due, repaid, repayment recorded, state
            ("O-2", 40_000, "2026-01-10 10:00", date(2026, 3, 10), "2026-03-08 10:00", "2026-03-08 18:00",
             "repaid"),
            ("O-4", 50_000, "2026-05-15 10:00", date(2026, 6, 14), None, None, "overdue"),
            ("O-5", 20_000, "2026-06-20 10:00", date(2026, 8, 20), None, None, "disbursed"),
        ]
        for n, (order, yuan, disbursed, due, repaid, repaid_recorded, state) in enumerate(loans, 1):
            principal = Decimal(yuan)
            outstanding = Decimal(0) if repaid else principal
            loan = OrderLoan(
                id=f"oln_test{n}", dealer_id=dealer_id, bank_id=bank_id, order_id=orders[order],
                line_id=line.id, state=state, amount=principal, tenor_days=60, apr=Decimal("0.065"),
                all_in_apr=Decimal("0.065"),
                apr_cap=Decimal("0.12"), lpr=Decimal("0.03"), lpr_effective_date=date(2025, 12, 22),
                approved_amount=principal, disbursed_amount=principal, outstanding_principal=outstanding,
                principal_repaid=principal - outstanding, applied_at=at(disbursed), due_on=due,
                first_disbursed_at=at(disbursed), repaid_at=at(repaid) if repaid else None,
            )
            s.add(loan)
            s.flush()
            s.add(Disbursement(id=f"dsb_test{n}", loan_id=loan.id, bank_reference=f"D{n}", amount=principal,
                               paid_at=at(disbursed), payee_account_enc="sealed", payee_account_index="index",
                               payee_account_last4="1234", to_supplier_account=True, reported_by="bank",
                               recorded_at=at(disbursed)))
            if repaid:
                s.add(Repayment(id=f"rpy_test{n}", loan_id=loan.id, bank_reference=f"R{n}", amount=principal,
                                paid_at=at(repaid), paid_on=at(repaid).astimezone(hand.CST).date(),
                                to_penalty_interest=Decimal(0), to_interest=Decimal(0),
                                to_principal=principal, overpayment=Decimal(0), principal_after=Decimal(0),
                                reported_by="bank",
                                recorded_at=at(repaid_recorded)))


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


@pytest.fixture
def stored_history(client, db, platform):
    """The hand-made history in the database; returns the engine ids of dealers 1 and 2."""
    d1 = make_dealer(db, external_id="D-1", industry="food_beverage", registered_on="2020-07-01",
                     licence_expires_on="2027-07-01")
    d2 = make_dealer(db, external_id="D-2", industry="pharmaceuticals", registered_on="2024-01-01",
                     licence_expires_on=None)
    s1, s2 = make_supplier(db, external_id="S-1"), make_supplier(db, external_id="S-2")
    with db.unit_of_work() as s:
        s.get(Dealer, d1.id).onboarded_at = at("2025-01-15 10:00")
        s.get(Dealer, d2.id).onboarded_at = at("2026-03-10 10:00")
    codes = {"D-1": d1.credit_code, "D-2": d2.credit_code, "S-1": s1.credit_code, "S-2": s2.credit_code}
    r = client.post("/v1/events", headers=platform, json={"events": history_events(codes)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["external_id"] for x in body["rejected"]] == ["I-4"]  # the backdated invoice
    assert body["rejected"][0]["errors"][0]["field"] == "issued_on"
    with db.session() as s:
        orders = dict(s.execute(select(Order.external_id, Order.id)).all())
    store_credit_history(db, d1.id, make_bank(db).id, orders)
    return d1.id, d2.id


def in_memory_features() -> pd.DataFrame:
    """The same history computed from the in-memory frames (without the invoice ingestion refused)."""
    invoices = hand.invoices()
    trade = hand.history(invoices=invoices[invoices["order_id"] != 3].reset_index(drop=True))
    return compute_features(trade, hand.AS_OF)


def plain(row: pd.Series) -> dict:
    return {name: None if pd.isna(row[name]) else float(row[name]) for name in FEATURE_NAMES}


# --- the golden history --------------------------------------------------------------------------


def test_a_snapshot_of_the_stored_history_reproduces_the_in_memory_vector_exactly(db, stored_history):
    first, second = stored_history
    with db.unit_of_work() as s:
        one = snapshots.snapshot_features(s, first, AS_OF)
        two = snapshots.snapshot_features(s, second, AS_OF)
        one_id = one.id
    expected = in_memory_features()
    with db.session() as s:
        stored = s.get(FeatureSnapshot, one_id)
        assert snapshots.snapshot_values(stored) == plain(expected.loc[1])
    assert snapshots.snapshot_values(two) == plain(expected.loc[2])


def test_golden_values_of_the_stored_history(db, stored_history):
    first, second = stored_history
    with db.unit_of_work() as s:
        one = snapshots.snapshot_values(snapshots.snapshot_features(s, first, AS_OF))
        two = snapshots.snapshot_values(snapshots.snapshot_features(s, second, AS_OF))
    assert (one["purchase_amount_3m"], one["purchase_amount_6m"], one["purchase_amount_12m"]) == (
        approx(40_000), approx(70_000), approx(80_000))
    assert (one["purchase_count_3m"], one["purchase_count_6m"], one["purchase_count_12m"]) == (2, 4, 5)
    assert one["purchase_trend_3m"] == approx(100 * (40_000 / 30_000 - 1))
    assert one["seasonally_adjusted_trend_3m"] == approx(0.0)  # alone in its industry
    assert one["days_since_last_order"] == approx(20 + 14 / 24)
    assert one["tenure_months"] == approx((date(2026, 7, 1) - date(2025, 1, 15)).days / MONTH)
    assert one["licence_months_remaining"] == approx(365 / MONTH)
    assert one["on_time_payment_ratio_6m"] == approx(1 / 4)
    assert one["mean_payment_delay_days_3m"] == approx((5 + 42 + 16) / 3)
    assert one["current_days_past_due"] == approx(42)
    assert one["return_rate_6m"] == approx(5_000 / 70_000)
    assert one["supplier_hhi_6m"] == approx((50 / 70) ** 2 + (20 / 70) ** 2)
    # the backdated invoice never got in: 3m wrong buyer; 6m + one good; 12m + wrong seller
    assert (one["invoice_match_ratio_3m"], one["invoice_match_ratio_6m"], one["invoice_match_ratio_12m"]) == (
        approx(1 / 2), approx(2 / 3), approx(2 / 4))
    assert one["credit_utilisation_mean_3m"] == approx((0.7 + 0.5 + 0.0) / 3)
    assert one["credit_utilisation_max_12m"] == approx(0.7)
    assert (one["prior_loan_count"], one["prior_loan_late_ratio"], one["prior_loan_max_days_late"]) == (
        3, approx(1 / 2), approx(17))
    assert two["licence_months_remaining"] is None  # long-term licence
    assert two["prior_loan_count"] == 0 and two["prior_loan_late_ratio"] is None
    assert two["credit_utilisation_mean_12m"] is None  # no line


def test_the_snapshot_is_canonical_json_with_its_hash_and_catalog_version(db, stored_history):
    first, _ = stored_history
    with db.unit_of_work() as s:
        snap = snapshots.snapshot_features(s, first, AS_OF)
    assert snap.catalog_version == snapshots.CATALOG_VERSION and len(snap.catalog_version) == 64
    assert snapshots.verify_snapshot(snap)
    assert '"licence_months_remaining":' in snap.features_json and "NaN" not in snap.features_json
    assert list(snapshots.snapshot_values(snap)) == sorted(FEATURE_NAMES)  # JCS sorts the keys
    snap.features_json = snap.features_json.replace('"prior_loan_count":3', '"prior_loan_count":2')
    assert not snapshots.verify_snapshot(snap)


def test_asking_again_returns_the_stored_snapshot(db, stored_history):
    first, _ = stored_history
    with db.unit_of_work() as s:
        snap_id = snapshots.snapshot_features(s, first, AS_OF).id
    with db.unit_of_work() as s:
        assert snapshots.snapshot_features(s, first, AS_OF).id == snap_id
        assert s.scalar(select(func.count()).select_from(FeatureSnapshot)) == 1


def test_several_dealers_read_at_once_match_their_snapshots(db, stored_history):
    first, second = stored_history
    with db.unit_of_work() as s:
        many = snapshots.features_of_dealers(s, [second, "dlr_nobody", first], AS_OF)
        one, two = (snapshots.snapshot_features(s, d, AS_OF) for d in (first, second))
        assert list(many) == [second, first]  # unknown dealers are left out
        assert many[first] == snapshots.snapshot_values(one) and many[second] == snapshots.snapshot_values(two)


def test_an_unknown_dealer_is_not_found(db):
    with db.session() as s, pytest.raises(NotFound):
        snapshots.snapshot_features(s, "dlr_nobody", AS_OF)


# --- the feature source the decision core scores with ------------------------------------------------


def test_the_feature_source_scores_a_stored_snapshot(db, stored_history):
    first, _ = stored_history
    source = snapshots.SnapshotFeatureSource()
    assert isinstance(source, FeatureSource)
    with db.unit_of_work() as s:
        vector = source.features_for(s, first, AS_OF)
    assert isinstance(vector, FeatureVector)
    with db.session() as s:
        snap = s.get(FeatureSnapshot, vector.snapshot_id)
        assert snap is not None and snap.dealer_id == first and snap.as_of == AS_OF
        assert dict(vector.values) == snapshots.snapshot_values(snap)
        assert vector.source == snapshots.source_label(snap)
        assert snap.features_sha256 in vector.source


def test_a_limit_decision_records_the_snapshot_it_scored(db, stored_history):
    first, _ = stored_history
    bank = make_bank(db)
    with db.unit_of_work() as s:
        decision = decisions.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=first, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=snapshots.SnapshotFeatureSource(), clock=lambda: AS_OF, actor="platform:test")
        inputs = json.loads(decision.inputs)
    with db.session() as s:
        snap = s.get(FeatureSnapshot, inputs["feature_snapshot"])
        assert snap is not None and snap.as_of == AS_OF
        assert inputs["feature_source"] == snapshots.source_label(snap)
        assert inputs["features"] == json.loads(snap.features_json)  # the vector scored is the one stored


# --- the industry seasonal index ----------------------------------------------------------------------


def test_the_seasonal_index_is_cached_per_month_and_equals_the_platform_computation(db, stored_history):
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IndustrySeasonality)) == 0
    with db.unit_of_work() as s:
        snapshots.snapshot_features(s, stored_history[0], AS_OF)  # computes the missing month
    with db.session() as s:
        row = s.get(IndustrySeasonality, date(2026, 7, 1))
        assert row is not None and row.computed_as_of == AS_OF and row.dealers == 2
        cached = snapshots.seasonal_index_frame(row)
    expected = industry_seasonal_index(hand.history(), hand.AS_OF)
    pd.testing.assert_frame_equal(cached.sort_index(), expected.sort_index(), check_names=False,
                                  check_index_type=False, check_column_type=False)


def test_refreshing_the_seasonal_index_is_idempotent(db, stored_history):
    mid_month = datetime(2026, 7, 18, 6, 0, tzinfo=UTC)
    with db.unit_of_work() as s:
        first = snapshots.refresh_industry_seasonality(s, mid_month)
        digest, computed_at = first.index_sha256, first.computed_at
    with db.unit_of_work() as s:
        again = snapshots.refresh_industry_seasonality(s, mid_month)
        assert (again.as_of_month, again.index_sha256) == (date(2026, 7, 1), digest)
        assert again.computed_at == computed_at  # nothing to recompute
        assert s.scalar(select(func.count()).select_from(IndustrySeasonality)) == 1


def test_the_month_of_an_instant_is_its_china_standard_time_month():
    assert snapshots.month_of(datetime(2026, 6, 30, 16, 0, tzinfo=UTC)) == (date(2026, 7, 1), AS_OF)
    assert snapshots.month_of(datetime(2026, 6, 30, 15, 59, tzinfo=UTC))[0] == date(2026, 6, 1)


def test_the_daily_job_stores_the_months_seasonal_index(db, stored_history, settings):
    from risk_engine import scheduler

    mid_month = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
    outcome = scheduler.run_job(db, settings, "industry_seasonality_daily", as_of=mid_month)
    assert outcome.status == "succeeded", outcome
    with db.session() as s:
        row = s.get(IndustrySeasonality, date(2026, 7, 1))
        assert row is not None and outcome.result["index_sha256"] == row.index_sha256
        assert snapshots.seasonality_for(s, mid_month).index_sha256 == row.index_sha256


def test_a_corrected_seasonal_index_is_recorded_in_the_audit_trail(db, stored_history):
    from compliance.models import AuditEntry

    mid_month = datetime(2026, 7, 18, 6, 0, tzinfo=UTC)
    with db.unit_of_work() as s:
        right = snapshots.refresh_industry_seasonality(s, mid_month).index_sha256
    with db.unit_of_work() as s:  # stored before a back-fill: its figures no longer match the history
        s.execute(update(IndustrySeasonality).values(index_json="{}", index_sha256="0" * 64))
    with db.unit_of_work() as s:
        assert snapshots.refresh_industry_seasonality(s, mid_month).index_sha256 == right
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "industry_seasonality.corrected")).one()
        assert entry.subject_id == "2026-07-01"
        assert json.loads(entry.payload)["from_sha256"] == "0" * 64
        assert json.loads(entry.payload)["to_sha256"] == right
