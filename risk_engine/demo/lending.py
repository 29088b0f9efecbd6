"""The demo's order loans, planned: which line holders borrow against which of their purchase orders,
when, and how each loan ends. Pure and deterministic under the seed; ``loan_loading`` reads what the
plan needs from the database and carries it out through the loan services.

* About three in five line holders borrow (fewer when that would make more than ``max_loans`` loans),
  one to four loans each, against their own purchase orders of the last ten months that are still
  financeable today — confirmed, shipped or delivered, not settled — from a whitelisted supplier they
  are not related to; first the orders the platform's history already financed (delivered and accepted
  weeks ago, yet without a trade bill: the bank paid the supplier). A dealer borrows only after three
  months on the platform; the amount is the bank's loan-to-order ratio of the order in whole hundreds of
  yuan, never more than the line has free at that moment.
* Applied for within a day or so of the order's confirmation, paid out to the supplier within two days,
  received by the supplier the same day. A loan already due was repaid in full on or a few days before
  its due date, one in ten two to twenty days late; a loan not yet due is outstanding and current; one
  applied for in the last hours may still await its disbursement.
* The riskiest tenth of the borrowers by their trade record — the oldest unpaid supplier bill, then the
  share of bills paid late — at least four of them, left one matured loan unpaid: in turn 1–30, 31–60,
  61–90, 1–30 and over 90 days past due. Their line lent nothing after that loan fell due.
* Applications the checks must stop: the same order again at the dealer's second bank (duplicate
  financing, 一女多嫁) for about a third of the borrowers holding two lines, and an order from a related
  supplier for half of the borrowers that buy from one.
* About one disbursement in a hundred (at least one once there are twenty loans), always the last loan on
  its line, is first reported paid to the dealer's own account; the bank then pays the supplier.
"""
from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import IntEnum

from loan_monitoring.dates import BEIJING, business_date, maturity_date

WINDOW_DAYS = 300  # how far back the financed orders go
BORROWING_AFTER_DAYS = 90
BORROWER_SHARE = 0.6
LOANS_PER_BORROWER = (1, 1, 2, 2, 2, 3, 3, 4)
TENORS = (30, 60, 90, 120, 180)
TENOR_WEIGHTS = (3, 4, 3, 1, 1)
LATE_SHARE = 0.1
DELINQUENT_SHARE = 0.1  # of the borrowers, the riskiest
MIN_DELINQUENT = 4
DELINQUENT_DAYS = ((1, 30), (31, 60), (61, 90), (1, 30), (91, 150))  # days past due today, in turn
TWIN_SHARE = 0.3  # of the borrowers holding a line at a second bank
RELATED_SHARE = 0.5  # of the borrowers that buy from a related supplier
DIVERTED_SHARE = 0.01
MIN_AMOUNT = Decimal("1000")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Product:
    """A bank's order-loan terms."""

    bank_id: str
    loan_to_order_ratio: Decimal
    min_tenor_days: int
    max_tenor_days: int

    @property
    def tenors(self) -> tuple[int, ...]:
        return tuple(t for t in TENORS if self.min_tenor_days <= t <= self.max_tenor_days)


@dataclass(frozen=True)
class Line:
    line_id: str
    dealer_id: str
    dealer_ref: str  # the platform's id: a stable order
    bank_id: str
    limit: Decimal
    borrows_from: datetime  # three months after the dealer joined


@dataclass(frozen=True)
class FinanceableOrder:
    order_id: str
    order_ref: str
    dealer_id: str
    supplier_id: str
    amount: Decimal
    confirmed_at: datetime
    financed_in_history: bool  # delivered and accepted weeks ago, yet no trade bill
    related: bool  # the supplier is related to the dealer


@dataclass(frozen=True)
class Borrowers:
    """What the plan reads (``loan_loading.read_borrowers``)."""

    products: Mapping[str, Product]  # by bank id
    lines: Sequence[Line]  # active lines, by dealer ref and bank
    orders: Mapping[str, Sequence[FinanceableOrder]]  # by dealer id, by order ref
    arrears_days: Mapping[str, int]  # by dealer id: age of its oldest unpaid supplier bill
    late_share: Mapping[str, float]  # by dealer id: its paid bills paid after the due date


class Step(IntEnum):
    APPLY = 0
    DIVERTED_PAYMENT = 1
    DISBURSE = 2
    RECEIPT = 3
    REPAY = 4


@dataclass(frozen=True)
class PlannedLoan:
    line: Line  # for an application at a second bank, the dealer's line there
    order: FinanceableOrder
    amount: Decimal
    tenor_days: int
    applied_at: datetime
    disbursed_at: datetime | None = None
    received_at: datetime | None = None  # the supplier's receipt
    repaid_at: datetime | None = None  # repaid in full
    diverted: bool = False  # first reported paid to the dealer's own account
    expected: str = "outstanding"  # repaid, repaid_late, outstanding, delinquent, approved or stopped

    @property
    def due_on(self) -> date | None:
        return None if self.disbursed_at is None else maturity_date(business_date(self.disbursed_at), self.tenor_days)

    def steps(self) -> list[tuple[datetime, Step]]:
        steps = [(self.applied_at, Step.APPLY)]
        if self.disbursed_at is not None:
            if self.diverted:
                steps.append((self.applied_at + (self.disbursed_at - self.applied_at) / 2, Step.DIVERTED_PAYMENT))
            steps.append((self.disbursed_at, Step.DISBURSE))
        steps += [(at, step) for at, step in ((self.received_at, Step.RECEIPT), (self.repaid_at, Step.REPAY)) if at]
        return steps


@dataclass
class _LinePlan:
    """The loans planned on one line, to keep its exposure within the limit at every moment."""

    line: Line
    loans: list[PlannedLoan] = field(default_factory=list)

    def exposure_at(self, moment: datetime) -> Decimal:
        return sum((p.amount for p in self.loans if p.applied_at <= moment
                    and (p.repaid_at is None or moment < p.repaid_at)), Decimal(0))

    def room(self, start: datetime, end: datetime | None) -> Decimal:
        """The limit less the peak exposure during [start, end): it peaks when a loan is applied for."""
        later = [p.applied_at for p in self.loans if start < p.applied_at and (end is None or p.applied_at < end)]
        moments = [start, *later]
        return self.line.limit - max(self.exposure_at(t) for t in moments)


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 3600))


def _during_business_hours(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(9), BEIJING).astimezone(UTC) + _hours(rng, 0, 8)


def loan_amount(order: FinanceableOrder, product: Product, room: Decimal) -> Decimal | None:
    """The bank's share of the order in whole hundreds of yuan, within ``room``; None below ``MIN_AMOUNT``."""
    amount = (min(order.amount * product.loan_to_order_ratio, room) / 100).quantize(Decimal(1), ROUND_DOWN) * 100
    return amount.quantize(CENT) if amount >= MIN_AMOUNT else None


class _Planner:
    def __init__(self, borrowers: Borrowers, *, now: datetime, seed: int) -> None:
        self.b, self.now, self.today = borrowers, now, business_date(now)
        self.rng = random.Random(f"demo-order-loans:{seed}")
        self.financed: set[str] = set()  # order ids

    def timeline(self, line: Line, order: FinanceableOrder, tenor: int) -> PlannedLoan | None:
        applied = max(order.confirmed_at, line.borrows_from) + _hours(self.rng, 0.5, 30)
        if applied > self.now - timedelta(hours=2):
            return None
        loan = PlannedLoan(line, order, Decimal(0), tenor, applied)
        disbursed = applied + _hours(self.rng, 1, 48)
        if disbursed > self.now - timedelta(minutes=30):
            return replace(loan, expected="approved")
        received = min(disbursed + _hours(self.rng, 0.1, 4), self.now - timedelta(minutes=5))
        return replace(loan, disbursed_at=disbursed, received_at=received)

    def repaid(self, loan: PlannedLoan) -> PlannedLoan:
        """A matured loan repaid in full: on or a few days before the due date, one in ten late."""
        due = loan.due_on
        if due is None or due >= self.today:
            return loan
        late = due + timedelta(days=self.rng.randint(2, 20))
        if self.rng.random() < LATE_SHARE and late < self.today:
            return replace(loan, repaid_at=_during_business_hours(self.rng, late), expected="repaid_late")
        day = max(due - timedelta(days=self.rng.randint(0, 5)), business_date(loan.disbursed_at) + timedelta(days=1))
        return replace(loan, repaid_at=_during_business_hours(self.rng, day), expected="repaid")

    def candidates(self, line: Line) -> list[FinanceableOrder]:
        orders = [o for o in self.b.orders.get(line.dealer_id, ())
                  if not o.related and o.order_id not in self.financed and o.confirmed_at >= line.borrows_from]
        self.rng.shuffle(orders)
        return sorted(orders, key=lambda o: not o.financed_in_history)

    def place(self, plan: _LinePlan, loan: PlannedLoan) -> bool:
        room = plan.room(loan.applied_at, loan.repaid_at)
        amount = loan_amount(loan.order, self.b.products[plan.line.bank_id], room)
        if amount is not None:
            plan.loans.append(replace(loan, amount=amount))
            self.financed.add(loan.order.order_id)
        return amount is not None

    def delinquent(self, plan: _LinePlan, days: tuple[int, int]) -> bool:
        """A matured loan left unpaid, ``days`` past due today."""
        for order in self.candidates(plan.line):
            for tenor in self.b.products[plan.line.bank_id].tenors:
                loan = self.timeline(plan.line, order, tenor)
                due = loan.due_on if loan is not None else None
                if due is not None and days[0] <= (self.today - due).days <= days[1]:
                    return self.place(plan, replace(loan, expected="delinquent"))
        return False

    def ordinary(self, plan: _LinePlan, count: int) -> None:
        """Up to ``count`` loans; none applied for once a loan of the line fell due unpaid."""
        tenors = self.b.products[plan.line.bank_id].tenors
        weights = [TENOR_WEIGHTS[TENORS.index(t)] for t in tenors]
        unpaid = [p.due_on for p in plan.loans if p.expected == "delinquent" and p.due_on is not None]
        for order in self.candidates(plan.line)[:count]:
            loan = self.timeline(plan.line, order, self.rng.choices(tenors, weights)[0])
            if loan is not None and all(business_date(loan.applied_at) < due for due in unpaid):
                self.place(plan, self.repaid(loan))


def plan_order_loans(borrowers: Borrowers, *, now: datetime, seed: int, max_loans: int) -> list[PlannedLoan]:
    """The demo's order loans, then the applications the checks should stop."""
    planner = _Planner(borrowers, now=now, seed=seed)
    rng = planner.rng
    lines = [line for line in borrowers.lines if borrowers.orders.get(line.dealer_id)]
    count = min(round(BORROWER_SHARE * len(lines)), math.ceil(max_loans / statistics.mean(LOANS_PER_BORROWER)))
    borrowing = sorted(rng.sample(range(len(lines)), count))
    plans = [_LinePlan(lines[i]) for i in borrowing]
    riskiest = sorted(plans, key=lambda p: (-borrowers.arrears_days.get(p.line.dealer_id, 0),
                                            -borrowers.late_share.get(p.line.dealer_id, 0.0)))
    wanted, unpaid = max(MIN_DELINQUENT, round(DELINQUENT_SHARE * len(plans))), 0
    for plan in riskiest:
        if unpaid == wanted or len(planner.financed) >= max_loans:
            break
        unpaid += planner.delinquent(plan, DELINQUENT_DAYS[unpaid % len(DELINQUENT_DAYS)])
    for plan in plans:
        if len(planner.financed) >= max_loans:
            break
        planner.ordinary(plan, min(rng.choice(LOANS_PER_BORROWER), max_loans - len(planner.financed)))
    planned = _divert_some(rng, [loan for plan in plans for loan in plan.loans])
    return planned + _stopped_applications(planner, [plan.line for plan in plans], planned)


def _divert_some(rng: random.Random, planned: list[PlannedLoan]) -> list[PlannedLoan]:
    """The last loan of a few lines is first reported paid to the dealer: the engine freezes the line."""
    last: dict[str, int] = {}
    for i, loan in enumerate(planned):
        if loan.line.line_id not in last or loan.applied_at > planned[last[loan.line.line_id]].applied_at:
            last[loan.line.line_id] = i
    eligible = [i for i in last.values() if planned[i].expected == "outstanding"]
    count = min(len(eligible), round(DIVERTED_SHARE * len(planned)) or int(len(planned) >= 20))
    chosen = set(rng.sample(eligible, count))
    return [replace(loan, diverted=True) if i in chosen else loan for i, loan in enumerate(planned)]


def _stopped_applications(planner: _Planner, borrowing: list[Line], planned: list[PlannedLoan]) -> list[PlannedLoan]:
    """An order financed again at the dealer's second bank; an order from a supplier related to the dealer."""
    b, rng, stopped = planner.b, planner.rng, []
    lines_of: dict[str, list[Line]] = defaultdict(list)
    for line in b.lines:
        lines_of[line.dealer_id].append(line)
    first_loan: dict[str, PlannedLoan] = {}
    for loan in sorted(planned, key=lambda p: p.applied_at):
        if loan.disbursed_at is not None:
            first_loan.setdefault(loan.line.line_id, loan)

    def application(line: Line, order: FinanceableOrder, at: datetime) -> None:
        amount = loan_amount(order, b.products[line.bank_id], line.limit)
        if at < planner.now - timedelta(hours=1) and amount is not None:
            stopped.append(PlannedLoan(line, order, amount, b.products[line.bank_id].tenors[0], at, expected="stopped"))

    for line in borrowing:
        second = [other for other in lines_of[line.dealer_id] if other.bank_id != line.bank_id]
        if second and line.line_id in first_loan and rng.random() < TWIN_SHARE:
            original = first_loan[line.line_id]
            application(second[0], original.order, original.applied_at + _hours(rng, 24, 96))
        related = [o for o in b.orders.get(line.dealer_id, ()) if o.related and o.confirmed_at >= line.borrows_from]
        if related and rng.random() < RELATED_SHARE:
            order = rng.choice(related)
            application(line, order, order.confirmed_at + _hours(rng, 0.5, 30))
    return stopped
