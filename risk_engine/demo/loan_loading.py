"""The demo's order loans (``lending``), carried out through the real loan services.

The seed plays the ordering platform and the partner banks. Each planned loan goes the way a real one
goes: the platform applies (``applications.apply_for_order_loan``: every check, the decision record and,
approved, the reservation on the line), the bank reports the entrusted payment to the supplier and the
supplier's receipt from its account records, then the repayment (``loan_monitoring.service``). Ledger
movements, audit entries and fund-usage alerts are the ones the API would have produced. Only business
times are back-dated (``applied_at``, ``paid_at``, ``occurred_at``), as the trade history is; the steps of
all loans run in time order, one transaction each, so a line's balance at every moment is the one the
history implies, and an application the checks stop (decline or refer) goes no further.

The synthetic platform runs up to today, past the bundled LPR table's confirmed date (mid-2025): before
lending, the seed records that the table is complete through today (``lpr_records.record_confirmation``,
actor ``demo:seed``, its source saying it is synthetic, not a published fixing), so the demo's loans are
capped at the latest bundled rate instead of all being referred. Only the demo does this; the seed is
refused in production.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from compliance import pii
from compliance.keys import KeyProvider
from limits.models import CreditLineRecord
from loan_monitoring import applications, inputs, lpr_records, service
from loan_monitoring.dates import business_date
from loan_monitoring.models import OrderLoan
from loan_monitoring.schemas import OrderLoanIn
from loan_monitoring.state import OUTSTANDING_STATES
from loan_monitoring.trade import FINANCEABLE_ORDER_STATUSES
from risk_engine.db import Database, utcnow
from risk_engine.demo import lending
from risk_engine.demo.lending import Borrowers, FinanceableOrder, Line, PlannedLoan, Product, Step
from risk_engine.demo.trade import ACCEPTANCE_DAYS
from risk_engine.parties.models import Bank, Dealer, Supplier
from risk_engine.settings import Settings
from risk_engine.trade import models as trade

ACTOR = "system:demo-seed"
LPR_ACTOR = "demo:seed"
LPR_SOURCE = "synthetic demo: not a published fixing (the latest bundled LPR taken as current through the seed date)"
REFERENCES = {Step.DIVERTED_PAYMENT: "P0", Step.DISBURSE: "P1", Step.RECEIPT: "S1", Step.REPAY: "R1"}


# --------------------------------------------------------------------------- reading what the plan needs


def read_borrowers(db: Database, *, now: datetime) -> Borrowers:
    """The active lines, the financeable purchase orders of their dealers and the dealers' trade record."""
    today = business_date(now)
    with db.session() as s:
        banks = list(s.scalars(select(Bank).order_by(Bank.created_at, Bank.id)))
        products = {b.id: Product(b.id, b.loan_to_order_ratio, b.min_tenor_days, b.max_tenor_days) for b in banks}
        line = CreditLineRecord
        rows = s.execute(select(line.id, line.dealer_id, Dealer.external_id, line.bank_id, line.limit,
                                Dealer.onboarded_at)
                         .join(Dealer, Dealer.id == line.dealer_id)
                         .where(line.status == "active", or_(line.expires_on.is_(None), line.expires_on >= today)))
        borrowing_after = timedelta(days=lending.BORROWING_AFTER_DAYS)
        lines = sorted((Line(r[0], r[1], r[2], r[3], r[4], r[5] + borrowing_after) for r in rows),
                       key=lambda ln: (ln.dealer_ref, list(products).index(ln.bank_id)))
        dealer_ids = sorted({ln.dealer_id for ln in lines})
        arrears, late = _trade_record(s, dealer_ids, today)
        return Borrowers(products, lines, _financeable_orders(s, dealer_ids, now), arrears, late)


def _batches(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _financeable_orders(s: Session, dealer_ids: Sequence[str], now: datetime) -> dict[str, list[FinanceableOrder]]:
    """Confirmed, shipped or delivered orders of the window, not settled, from a whitelisted supplier
    (what ``loan_monitoring.application`` finances)."""
    whitelisted = set(s.scalars(select(Supplier.id).where(Supplier.whitelisted.is_(True))))
    related = {(r.dealer_id, r.supplier_id) for r in s.execute(
        select(trade.RelatedPartyLink.dealer_id, trade.RelatedPartyLink.supplier_id))}
    bill, o = trade.PaymentDue, trade.Order
    billed_by = now - timedelta(days=ACCEPTANCE_DAYS + 7)  # a delivery accepted a week ago has its bill by now
    orders: dict[str, list[FinanceableOrder]] = {}
    for batch in _batches(dealer_ids):
        # bills read on their own: joined to the orders, PostgreSQL plans badly before its first ANALYZE
        bills = {order_id: (count, unpaid) for order_id, count, unpaid in s.execute(
            select(bill.order_id, func.count(),
                   func.sum(case((func.round(bill.paid_amount, 2) < func.round(bill.amount, 2), 1), else_=0)))
            .where(bill.dealer_id.in_(batch)).group_by(bill.order_id))}
        for r in s.execute(
            select(o.id, o.external_id, o.dealer_id, o.supplier_id, o.amount, o.confirmed_at, o.delivered_at)
            .where(o.dealer_id.in_(batch), o.status.in_([status.value for status in FINANCEABLE_ORDER_STATUSES]),
                   o.confirmed_at >= now - timedelta(days=lending.WINDOW_DAYS), o.confirmed_at < now)
            .order_by(o.external_id)
        ):
            billed, unpaid = bills.get(r.id, (0, 0))
            if (billed and not unpaid) or r.supplier_id not in whitelisted:
                continue  # settled, or a supplier the banks do not lend against
            in_history = not billed and r.delivered_at is not None and r.delivered_at < billed_by
            amount = Decimal(r.amount).quantize(lending.CENT)
            orders.setdefault(r.dealer_id, []).append(FinanceableOrder(
                r.id, r.external_id, r.dealer_id, r.supplier_id, amount, r.confirmed_at, in_history,
                (r.dealer_id, r.supplier_id) in related))
    return orders


def _trade_record(s: Session, dealer_ids: Sequence[str], today: date) -> tuple[dict[str, int], dict[str, float]]:
    """Per dealer: the age in days of its oldest unpaid supplier bill, and the share of bills it paid late."""
    bill = trade.PaymentDue
    arrears: dict[str, int] = {}
    paid, late = Counter(), Counter()
    for batch in _batches(dealer_ids):
        for dealer_id, due_on, paid_on, unpaid in s.execute(
            select(bill.dealer_id, bill.due_on, bill.paid_on,
                   func.round(bill.paid_amount, 2) < func.round(bill.amount, 2))
            .where(bill.dealer_id.in_(batch), bill.due_on < today)
        ):
            if unpaid:
                arrears[dealer_id] = max(arrears.get(dealer_id, 0), (today - due_on).days)
            elif paid_on is not None:
                paid[dealer_id] += 1
                late[dealer_id] += paid_on > due_on
    return arrears, {d: late[d] / paid[d] for d in paid}


# --------------------------------------------------------------------------- carrying it out


@dataclass
class LendingReport:
    planned: int = 0
    applications: Counter = field(default_factory=Counter)  # by outcome
    payments_to_dealer_refused: int = 0
    disbursed: int = 0
    repaid: int = 0

    def summary(self) -> str:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.applications.items()))
        refused = self.payments_to_dealer_refused
        to_dealer = f" ({refused} first reported paid to the dealer: refused)" if refused else ""
        return (f"order loans: {sum(self.applications.values())} applications ({outcomes}), {self.disbursed} "
                f"disbursed to the supplier{to_dealer}, {self.repaid} repaid in full")


class _Actors:
    """The seed as the platform (applications) and the banks (payments, account records, repayments)."""

    def __init__(self, db: Database, settings: Settings, keys: KeyProvider, report: LendingReport) -> None:
        self.db, self.settings, self.keys, self.report = db, settings, keys, report
        self.accounts: dict[str, str | None] = {}

    def _account(self, s: Session, party: type[Dealer] | type[Supplier], party_id: str) -> str | None:
        """An account on the bank's file: the supplier's settlement account, the dealer's own."""
        if party_id not in self.accounts:
            self.accounts[party_id] = pii.account_number_of(self.keys, s.get(party, party_id))
        return self.accounts[party_id]

    def apply(self, loan: PlannedLoan) -> str | None:
        request = OrderLoanIn(dealer_id=loan.line.dealer_id, bank_id=loan.line.bank_id, order_id=loan.order.order_id,
                              amount=loan.amount, tenor_days=loan.tenor_days, applied_at=loan.applied_at)
        with self.db.unit_of_work() as s:
            row = applications.apply_for_order_loan(s, self.settings, request, actor=ACTOR, now=loan.applied_at)
            outcome = {"approved": "approve", "declined": "decline"}.get(row.state, "refer")
            loan_id = row.id
        self.report.applications[outcome] += 1
        return loan_id if outcome == "approve" else None

    def pay(self, loan_id: str, loan: PlannedLoan, at: datetime, reference: str, *, to_dealer: bool = False) -> None:
        with self.db.unit_of_work() as s:
            payee = (self._account(s, Dealer, loan.line.dealer_id) if to_dealer
                     else self._account(s, Supplier, loan.order.supplier_id))
            if payee is None and to_dealer:
                return  # a dealer without an account on file cannot be paid by mistake
            try:
                service.report_disbursement(s, self.keys, self.settings, loan_id, loan.line.bank_id,
                                            reference=reference, amount=loan.amount, payee_account=payee,
                                            paid_at=at, actor=ACTOR)
            except service.PayeeNotSupplierAccount as refused:  # the refusal and its alert are kept
                if not to_dealer:
                    raise
                service.record_refused_disbursement(s, self.settings, refused, actor=ACTOR)
                self.report.payments_to_dealer_refused += 1
            else:
                self.report.disbursed += 1

    def receipt(self, loan_id: str, loan: PlannedLoan, at: datetime, reference: str) -> None:
        with self.db.unit_of_work() as s:
            service.report_fund_flow(s, self.keys, self.settings, loan_id, loan.line.bank_id, kind="supplier_receipt",
                                     reference=reference, amount=loan.amount, occurred_at=at, from_account=None,
                                     to_account=self._account(s, Supplier, loan.order.supplier_id), actor=ACTOR)

    def repay(self, loan_id: str, loan: PlannedLoan, at: datetime, reference: str) -> None:
        """The dealer pays off the loan: principal, interest and any overdue interest owed that day."""
        with self.db.unit_of_work() as s:
            owed = inputs.position_on(s.get(OrderLoan, loan_id), inputs.disbursements_of(s, loan_id),
                                      inputs.repayments_of(s, loan_id), business_date(at)).balance.total
            service.report_repayment(s, loan_id, loan.line.bank_id, reference=reference, amount=owed, paid_at=at,
                                     actor=ACTOR)
        self.report.repaid += 1


def carry_out(db: Database, settings: Settings, keys: KeyProvider, planned: Sequence[PlannedLoan]) -> LendingReport:
    """Every step of every planned loan, in time order, through the loan services."""
    report = LendingReport(planned=len(planned))
    actors = _Actors(db, settings, keys, report)
    loan_ids: dict[int, str | None] = {}
    for at, step, i in sorted((at, step, i) for i, loan in enumerate(planned) for at, step in loan.steps()):
        loan = planned[i]
        reference = f"{loan.order.order_ref}-{REFERENCES.get(step)}"  # the bank's ids of its payments
        if step is Step.APPLY:
            loan_ids[i] = actors.apply(loan)
        elif loan_ids[i] is None:
            continue  # declined, or referred to a risk officer: nothing is paid out
        elif step is Step.DIVERTED_PAYMENT:
            actors.pay(loan_ids[i], loan, at, reference, to_dealer=True)
        elif step is Step.DISBURSE:
            actors.pay(loan_ids[i], loan, at, reference)
        elif step is Step.RECEIPT:
            actors.receipt(loan_ids[i], loan, at, reference)
        else:
            actors.repay(loan_ids[i], loan, at, reference)
    return report


def confirm_lpr_for_the_demo(db: Database, settings: Settings, *, now: datetime) -> None:
    """Record, as the synthetic demo, that the LPR table is complete through ``now``'s Beijing date."""
    if settings.env == "production":
        raise RuntimeError("the demo's LPR confirmation is refused when RISK_ENV=production")
    today = business_date(now)
    with db.unit_of_work() as s:
        lpr_records.record_confirmation(s, through=today, source=LPR_SOURCE, actor=LPR_ACTOR, today=today)


def seed_order_loans(db: Database, settings: Settings, keys: KeyProvider, *, max_loans: int, seed: int,
                     now: datetime | None = None, progress: Callable[[str], None] = lambda _msg: None) -> LendingReport:
    now = now or utcnow()
    confirm_lpr_for_the_demo(db, settings, now=now)
    progress(f"LPR table confirmed through {business_date(now)} for the demo ({LPR_SOURCE})")
    borrowers = read_borrowers(db, now=now)
    planned = lending.plan_order_loans(borrowers, now=now, seed=seed, max_loans=max_loans)
    stopped = sum(p.expected == "stopped" for p in planned)
    progress(f"order loans planned: {len(planned) - stopped} on {len({p.line.line_id for p in planned})} of "
             f"{len(borrowers.lines)} credit lines, and {stopped} applications the checks should stop")
    report = carry_out(db, settings, keys, planned)
    progress(report.summary())
    return report


def loans_by_state(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {state: n for state, n in s.execute(select(OrderLoan.state, func.count()).group_by(OrderLoan.state))}


def outstanding_by_bucket(db: Database) -> dict[str, int]:
    outstanding = [state.value for state in OUTSTANDING_STATES]
    with db.session() as s:
        return {bucket: n for bucket, n in s.execute(select(OrderLoan.bucket, func.count())
                                                     .where(OrderLoan.state.in_(outstanding))
                                                     .group_by(OrderLoan.bucket))}
