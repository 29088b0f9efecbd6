"""The demo's lending plan (``risk_engine.demo.lending``): pure, deterministic, within every limit."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loan_monitoring.dates import business_date
from risk_engine.demo.lending import Borrowers, FinanceableOrder, Line, Product, plan_order_loans

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
TODAY = business_date(NOW)
PRODUCTS = {
    "bank-a": Product("bank-a", Decimal("0.80"), 30, 180),
    "bank-b": Product("bank-b", Decimal("0.70"), 30, 120),
    "bank-c": Product("bank-c", Decimal("0.80"), 60, 180),
}


def borrowers(dealers: int = 40) -> Borrowers:
    lines, orders = [], {}
    for d in range(dealers):
        dealer = f"dealer-{d:03d}"
        banks = [f"bank-{'abc'[d % 3]}"] + ([f"bank-{'abc'[(d + 1) % 3]}"] if d % 4 == 0 else [])  # some hold two
        for bank in banks:
            lines.append(Line(f"line-{d}-{bank}", dealer, f"D{d:06d}", bank, Decimal(200_000 + 10_000 * (d % 5)),
                              NOW - timedelta(days=400)))
        orders[dealer] = [
            FinanceableOrder(f"order-{d}-{k}", f"O{d:04d}{k:03d}", dealer, f"supplier-{k % 4}",
                             Decimal(20_000 + 1_500 * k) + Decimal("0.37"), NOW - timedelta(days=3 + 7 * k, hours=d),
                             financed_in_history=k % 3 != 0, related=(d % 11 == 0 and k % 4 == 0))
            for k in range(42)
        ]
    arrears = {f"dealer-{d:03d}": 10 * (d + 1) for d in range(0, dealers, 6)}
    return Borrowers(PRODUCTS, lines, orders, arrears, {})


def signature(plan):
    return [(p.line.line_id, p.order.order_id, p.amount, p.tenor_days, p.applied_at, p.disbursed_at, p.repaid_at,
             p.diverted, p.expected) for p in plan]


@pytest.fixture(scope="module")
def plan():
    return plan_order_loans(borrowers(), now=NOW, seed=7, max_loans=400)


def test_the_same_seed_gives_the_same_plan_and_another_seed_another(plan):
    assert signature(plan_order_loans(borrowers(), now=NOW, seed=7, max_loans=400)) == signature(plan)
    assert signature(plan_order_loans(borrowers(), now=NOW, seed=8, max_loans=400)) != signature(plan)


def test_most_loans_are_repaid_some_are_current_and_a_few_past_due_in_every_bucket(plan):
    loans = [p for p in plan if p.expected != "stopped"]
    counts = {kind: sum(p.expected == kind for p in loans) for kind in ("repaid", "repaid_late", "outstanding",
                                                                           "delinquent")}
    assert counts["repaid"] + counts["repaid_late"] > len(loans) / 2
    assert counts["outstanding"] > 0 and counts["repaid_late"] > 0
    assert 4 <= counts["delinquent"] < len(loans) / 10
    past_due = sorted((TODAY - p.due_on).days for p in loans if p.expected == "delinquent")
    assert [any(low <= d <= high for d in past_due) for low, high in ((1, 30), (31, 60), (61, 90))] == [True] * 3
    for p in loans:
        if p.expected == "outstanding":
            assert p.due_on >= TODAY and p.repaid_at is None
        if p.expected.startswith("repaid"):
            assert p.disbursed_at < p.repaid_at < NOW and (business_date(p.repaid_at) > p.due_on) == (
                p.expected == "repaid_late")


def test_the_riskiest_borrowers_hold_the_loans_past_due(plan):
    arrears = borrowers().arrears_days
    delinquent = {p.line.dealer_id for p in plan if p.expected == "delinquent"}
    assert delinquent and all(arrears.get(d, 0) > 0 for d in delinquent)


def test_every_loan_keeps_to_the_bank_product_and_the_order(plan):
    for p in plan:
        product = PRODUCTS[p.line.bank_id]
        assert p.tenor_days in product.tenors
        assert Decimal("1000") <= p.amount <= p.order.amount * product.loan_to_order_ratio
        assert p.amount == p.amount.quantize(Decimal("0.01"))
        assert p.order.dealer_id == p.line.dealer_id
        assert p.order.confirmed_at < p.applied_at < NOW and p.applied_at >= p.line.borrows_from
        assert all(earlier[0] <= later[0] for earlier, later in zip(p.steps(), p.steps()[1:], strict=False))


def test_no_line_is_ever_drawn_past_its_limit(plan):
    loans = [p for p in plan if p.expected != "stopped"]
    for p in loans:
        on_line = [q for q in loans if q.line.line_id == p.line.line_id]
        exposure = sum(q.amount for q in on_line if q.applied_at <= p.applied_at
                       and (q.repaid_at is None or p.applied_at < q.repaid_at))
        assert exposure <= p.line.limit


def test_an_order_is_financed_once_and_the_stopped_applications_are_the_ones_the_checks_refuse(plan):
    loans = [p for p in plan if p.expected != "stopped"]
    financed = {p.order.order_id: p for p in loans}
    assert len(financed) == len(loans)
    stopped = [p for p in plan if p.expected == "stopped"]
    assert any(p.order.related for p in stopped)
    assert any(p.order.order_id in financed for p in stopped)
    for p in stopped:
        first = financed.get(p.order.order_id)
        assert p.order.related or (first.line.bank_id != p.line.bank_id and first.applied_at < p.applied_at)
    assert not any(p.order.related for p in loans)


def test_a_few_disbursements_are_first_reported_paid_to_the_dealer(plan):
    diverted = [p for p in plan if p.diverted]
    assert 1 <= len(diverted) <= len(plan) // 50 + 1
    for p in diverted:
        assert p.expected == "outstanding"
        assert p.applied_at == max(q.applied_at for q in plan if q.line.line_id == p.line.line_id)


def test_the_plan_stays_within_the_loans_asked_for():
    few = plan_order_loans(borrowers(), now=NOW, seed=7, max_loans=15)
    assert 0 < len([p for p in few if p.expected != "stopped"]) <= 15
    assert plan_order_loans(borrowers(), now=NOW, seed=7, max_loans=0) == []
