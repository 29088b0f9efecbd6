"""The portfolio read model (loan_monitoring.portfolio) on a real database: exposure summed to the cent by
grade, bank and guarantor, outstanding loans in the right delinquency bucket at each boundary, open alerts
by kind and severity. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from limits import ledger
from loan_monitoring import alerting, portfolio
from loan_monitoring.alerts import Alert as Finding
from loan_monitoring.alerts import Severity
from loan_monitoring.delinquency import Bucket
from loan_monitoring.models import Alert, OrderLoan
from loan_monitoring.portfolio import DelinquencyBucket, ExposureGroup, OpenAlertsOfKind
from tests.factories import auth, factory_keys, make_api_key, make_bank, make_dealer, make_guarantor
from tests.integration.test_loan_monitoring_jobs import run_delinquency
from tests.loan_factories import disbursed_loan, loan, loan_world, make_approved_loan, make_order

D = Decimal
CAUSE = ledger.Cause("test", "portfolio")


def open_line(db, dealer, bank, limit, *, grade=None, reserve=None, utilise=None, status="active"):
    with db.unit_of_work() as s:
        line = ledger.open_line(
            s, dealer_id=dealer.id, bank_id=bank.id, limit=D(limit), grade=grade, cause=CAUSE, actor="test"
        )
        if reserve:
            ledger.reserve(s, line.id, D(reserve), cause=CAUSE, actor="test")
        if utilise:
            ledger.utilise(s, line.id, D(utilise), cause=CAUSE, actor="test")
        if status == "frozen":
            ledger.freeze(s, line.id, cause=CAUSE, actor="test")
        if status == "closed":
            ledger.close(s, line.id, cause=CAUSE, actor="test")


def read(db, what, *args):
    with db.session() as s:
        return what(s, *args)


@pytest.fixture
def book(db):
    """Two banks, one guarantor; five lines, one of them closed, one frozen, one without a grade."""
    north, south = make_bank(db, name="North Bank"), make_bank(db, name="South Bank")
    pearl = make_guarantor(db, name="Pearl Guarantee")
    covered = [make_dealer(db, guarantor_id=pearl.id) for _ in range(2)]
    plain = [make_dealer(db) for _ in range(3)]
    open_line(db, covered[0], north, "300000.00", grade="A", reserve="100000.10", utilise="60000.05")
    open_line(db, covered[1], south, "200000.00", grade="A", reserve="0.20", status="frozen")
    open_line(db, plain[0], north, "150000.00", grade="BB", reserve="0.01")
    open_line(db, plain[1], south, "50000.00", reserve="49999.99")  # no grade
    open_line(db, plain[2], south, "900000.00", grade="A", status="closed")
    return {"north": north, "south": south, "pearl": pearl}


def test_exposure_by_grade_sums_the_open_lines_to_the_cent_largest_first(db, book):
    by_grade = read(db, portfolio.exposure_by, "grade")
    assert by_grade == [
        ExposureGroup("A", "A", 2, D("500000.00"), D("100000.30")),  # the frozen line counts, the closed not
        ExposureGroup(None, None, 1, D("50000.00"), D("49999.99")),
        ExposureGroup("BB", "BB", 1, D("150000.00"), D("0.01")),
    ]
    assert all(type(g.limit) is Decimal and type(g.exposure) is Decimal for g in by_grade)


def test_a_closed_line_still_being_repaid_counts_its_exposure_but_not_its_line_or_limit(db):
    bank, dealer = make_bank(db), make_dealer(db)
    open_line(db, dealer, bank, "300000.00", grade="B", reserve="120000.00", utilise="120000.00", status="closed")
    open_line(db, make_dealer(db), bank, "100000.00", grade="B", reserve="10000.00", utilise="10000.00")
    assert read(db, portfolio.exposure_by, "grade") == [ExposureGroup("B", "B", 1, D("100000.00"), D("130000.00"))]


def test_groups_of_equal_exposure_come_larger_limit_first(db):
    bank = make_bank(db)
    open_line(db, make_dealer(db), bank, "1000.00", grade="B", reserve="10.00")
    open_line(db, make_dealer(db), bank, "2000.00", grade="CCC", reserve="10.00")
    assert [g.key for g in read(db, portfolio.exposure_by, "grade")] == ["CCC", "B"]


def test_exposure_by_bank_names_each_bank(db, book):
    assert read(db, portfolio.exposure_by, "bank") == [
        ExposureGroup(book["north"].id, "North Bank", 2, D("450000.00"), D("100000.11")),
        ExposureGroup(book["south"].id, "South Bank", 2, D("250000.00"), D("50000.19")),
    ]


def test_exposure_by_guarantor_puts_dealers_without_one_in_a_group_of_their_own(db, book):
    assert read(db, portfolio.exposure_by, "guarantor") == [
        ExposureGroup(book["pearl"].id, "Pearl Guarantee", 2, D("500000.00"), D("100000.30")),
        ExposureGroup(None, None, 2, D("200000.00"), D("50000.00")),
    ]


def test_exposure_is_exact_to_the_cent_where_a_floating_point_sum_is_not(db):
    """SQLite adds NUMERIC values as floats: these six add up to ...97.95 in floating point."""
    amounts = ["8175652088852.08", "463879168041.77", "5241666219029.96", "8582338647496.79",
               "8521900996790.85", "6223304338486.51"]
    for amount in amounts:  # a bank each: one quota is at most 9,999,999,999,999.99 (15 digits)
        bank = make_bank(db, quota=D("9999999999999.99"), max_line_amount=D("9999999999999.99"))
        open_line(db, make_dealer(db), bank, amount, grade="B", reserve=amount)
    [group] = read(db, portfolio.exposure_by, "grade")
    assert group.limit == group.exposure == sum(map(D, amounts)) == D("37208741458697.96")


def test_an_empty_book_has_no_groups_and_every_bucket_at_zero(db):
    figures = read(db, portfolio.portfolio)
    assert figures.exposure_by_grade == figures.exposure_by_bank == figures.exposure_by_guarantor == []
    assert figures.delinquency_buckets == [DelinquencyBucket(b, 0, D("0.00")) for b in Bucket]
    assert figures.open_alerts_by_kind == []
    assert figures.as_of.tzinfo is not None


def test_an_unknown_dimension_is_refused(db):
    with pytest.raises(ValueError, match="unknown dimension"):
        read(db, portfolio.exposure_by, "province")


# --------------------------------------------------------------------------- delinquency


def test_outstanding_loans_are_summed_by_bucket_and_finished_ones_left_out(db):
    """States and buckets are set directly here (as the servicing and the daily job would)."""
    world = loan_world(db, factory_keys())
    rows = [  # state, days past due, bucket, amount
        ("disbursed", 0, "current", "1000.01"),
        ("recalled", 0, "current", "2000.02"),
        ("overdue", 12, "1-30", "3000.03"),
        ("overdue", 29, "1-30", "4000.04"),
        ("defaulted", 140, "90+", "5000.05"),
        ("repaid", 0, "current", "6000.06"),  # finished: no longer outstanding
        ("approved", 0, "current", "7000.07"),  # not yet disbursed
    ]
    loan_ids = []
    for *_, amount in rows:
        placed_at = datetime.now(UTC) - timedelta(days=9)
        order = make_order(db, world.dealer, world.supplier, "100000.00", placed_at=placed_at)
        loan_ids.append(make_approved_loan(db, world.dealer, world.bank, order, world.line_id, amount=amount))
    with db.unit_of_work() as s:
        for loan_id, (state, dpd, bucket, amount) in zip(loan_ids, rows, strict=True):
            row = s.get(OrderLoan, loan_id)
            row.state, row.days_past_due, row.bucket = state, dpd, bucket
            if state != "approved":
                row.disbursed_amount = D(amount)
                row.outstanding_principal = D("0.00") if state == "repaid" else D(amount)
    assert read(db, portfolio.delinquency_buckets) == [
        DelinquencyBucket(Bucket.CURRENT, 2, D("3000.03")),
        DelinquencyBucket(Bucket.DPD_1_30, 2, D("7000.07")),
        DelinquencyBucket(Bucket.DPD_31_60, 0, D("0.00")),
        DelinquencyBucket(Bucket.DPD_61_90, 0, D("0.00")),
        DelinquencyBucket(Bucket.DPD_90_PLUS, 1, D("5000.05")),
    ]


@pytest.fixture
def disbursed(db, client):
    """80,000.01 for 30 days, disbursed 200 days ago through the bank's route."""
    world = loan_world(db, client.app.state.keys)
    bank = auth(make_api_key(db, "bank", world.bank))
    return disbursed_loan(db, client, world, bank, amount="80000.01", tenor_days=30)


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [
        (0, Bucket.CURRENT),
        (1, Bucket.DPD_1_30),
        (30, Bucket.DPD_1_30),
        (31, Bucket.DPD_31_60),
        (60, Bucket.DPD_31_60),
        (61, Bucket.DPD_61_90),
        (90, Bucket.DPD_61_90),
        (91, Bucket.DPD_90_PLUS),  # and in default: still outstanding
    ],
)
def test_a_loan_days_past_its_due_date_is_in_the_bucket_of_that_many_days(db, disbursed, days_late, bucket):
    run_delinquency(db, loan(db, disbursed).due_on + timedelta(days=days_late))
    assert [(b.bucket, b.loans, b.outstanding) for b in read(db, portfolio.delinquency_buckets)] == [
        (b, 1, D("80000.01")) if b == bucket else (b, 0, D("0.00")) for b in Bucket
    ]


# --------------------------------------------------------------------------- alerts


def finding(dealer_id: str, kind: str, severity: Severity, n: int) -> Finding:
    return Finding(kind, severity, f"dealer:{dealer_id}:{kind}:{n}", "提示", "a finding", {}, (), dealer_id=dealer_id)


def test_open_alerts_are_counted_by_kind_and_severity_most_first(db):
    dealer = make_dealer(db)
    with db.unit_of_work() as s:
        alerting.raise_alerts(
            s,
            [
                finding(dealer.id, "return_spike", Severity.INFO, 1),
                finding(dealer.id, "return_spike", Severity.WARNING, 2),
                finding(dealer.id, "return_spike", Severity.CRITICAL, 3),
                finding(dealer.id, "purchase_volume_drop", Severity.WARNING, 4),
                finding(dealer.id, "funds_to_other_account", Severity.CRITICAL, 5),
                finding(dealer.id, "funds_to_other_account", Severity.CRITICAL, 6),
                finding(dealer.id, "days_past_due", Severity.WARNING, 7),
            ],
            source="early_warning",
            actor="test",
        )
    with db.unit_of_work() as s:
        resolved = s.query(Alert).filter_by(kind="days_past_due").one()
        alerting.resolve_alert(s, resolved.id, resolution="remediated", reason="paid", actor="test")
    assert read(db, portfolio.open_alerts_by_kind) == [
        OpenAlertsOfKind("return_spike", total=3, info=1, warning=1, critical=1),
        OpenAlertsOfKind("funds_to_other_account", total=2, info=0, warning=0, critical=2),
        OpenAlertsOfKind("purchase_volume_drop", total=1, info=0, warning=1, critical=0),
    ]


# --------------------------------------------------------------------------- the route


def test_the_route_answers_the_service_figures_as_decimal_strings(client, db, book):
    body = client.get("/v1/portfolio", headers=auth(make_api_key(db, "risk_officer"))).json()
    assert body["exposure_by_guarantor"] == [
        {"key": book["pearl"].id, "label": "Pearl Guarantee", "lines": 2, "limit": "500000.00",
         "exposure": "100000.30"},
        {"key": None, "label": None, "lines": 2, "limit": "200000.00", "exposure": "50000.00"},
    ]
    assert datetime.fromisoformat(body["as_of"]).tzinfo is not None


def test_a_bank_cannot_read_the_portfolio_of_every_bank(client, db, book):
    """The portfolio is not scoped by bank, so bank clients are refused outright."""
    bank_key = make_api_key(db, "bank", book["north"])
    assert client.get("/v1/portfolio", headers=auth(bank_key)).status_code == 403
