"""Interest accrual and the allocation of repayments.

Day count: ACT/365 by default — simple daily interest, actual days elapsed, the annual rate divided
by 365 — because the legal ceiling (4 × LPR, ``lpr.apr_cap``) is an annual rate, and under
ACT/365 the contract rate *is* the rate the borrower pays per year, so the cap check is a plain
comparison. ACT/360 (日利率 = 年利率 ÷ 360, common in Chinese bank contracts) is supported; with it
the borrower pays ``rate × 365/360`` a year, and ``annual_equivalent`` converts before any cap
comparison.

Days: interest runs from the disbursement date up to, but not including, the repayment date
(算头不算尾). Principal unpaid at maturity stops earning contract interest and earns overdue
(penalty) interest from the maturity date on, at the contract rate plus a surcharge (policy: +50 %,
the top of the PBOC's 30–50 % range for overdue loans) and never above the cap (Supreme People's
Court private-lending rules, Art. 29: overdue interest and penalties together ≤ 4 × LPR). No
interest is charged on unpaid interest. Each accrual period is rounded half-up to the cent.

Allocation order: overdue (penalty) interest, then contract interest, then principal — interest
before principal as the issue asks, and the oldest, costliest debt first. Only the principal
portion releases utilised credit on the line. Money beyond what is owed is returned as
``overpayment``: it is not pre-paid interest; the bank refunds it or holds it as a credit balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from loan_monitoring.money import ZERO, require_money, require_rate, to_money
from risk_engine.errors import InvalidInput


class DayCount(StrEnum):
    ACT_365 = "ACT/365"
    ACT_360 = "ACT/360"

    @property
    def basis(self) -> int:
        return 360 if self is DayCount.ACT_360 else 365


DEFAULT_PENALTY_SURCHARGE = Decimal("0.5")


def annual_equivalent(rate: Decimal, day_count: DayCount) -> Decimal:
    """The rate a borrower actually pays per 365-day year under ``day_count``."""
    return rate * Decimal(365) / Decimal(day_count.basis)


def interest_for(principal: Decimal, annual_rate: Decimal, days: int, day_count: DayCount) -> Decimal:
    if days <= 0 or principal <= 0:
        return ZERO
    return to_money(principal * annual_rate * days / day_count.basis)


@dataclass(frozen=True)
class LoanTerms:
    annual_rate: Decimal
    maturity_date: date  # for a recalled loan: the recall date, when all of it fell due
    day_count: DayCount = DayCount.ACT_365
    penalty_surcharge: Decimal = DEFAULT_PENALTY_SURCHARGE
    overdue_rate_cap: Decimal | None = None  # per 365-day year, e.g. lpr.apr_cap(contract_date)

    @property
    def overdue_rate(self) -> Decimal:
        rate = self.annual_rate * (1 + self.penalty_surcharge)
        if self.overdue_rate_cap is None:
            return rate
        cap_in_basis = self.overdue_rate_cap * Decimal(self.day_count.basis) / Decimal(365)
        return min(rate, cap_in_basis)


@dataclass(frozen=True)
class LoanBalance:
    """What the borrower owes, with interest accrued for every day before ``accrued_to``."""

    principal: Decimal
    accrued_to: date
    interest: Decimal = ZERO
    penalty_interest: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty_interest


def accrue(balance: LoanBalance, terms: LoanTerms, to_date: date) -> LoanBalance:
    """``balance`` with interest added for the days from ``accrued_to`` up to ``to_date``."""
    if to_date < balance.accrued_to:
        raise InvalidInput(
            f"cannot accrue back from {balance.accrued_to} to {to_date}",
            field="date",
            code="accrual_backwards",
        )
    start, end, maturity = balance.accrued_to, to_date, terms.maturity_date
    contract_days = max(0, (min(end, maturity) - start).days)
    overdue_days = max(0, (end - max(start, maturity)).days)
    return replace(
        balance,
        accrued_to=to_date,
        interest=balance.interest
        + interest_for(balance.principal, terms.annual_rate, contract_days, terms.day_count),
        penalty_interest=balance.penalty_interest
        + interest_for(balance.principal, terms.overdue_rate, overdue_days, terms.day_count),
    )


@dataclass(frozen=True)
class RepaymentAllocation:
    paid_on: date
    payment: Decimal
    to_penalty_interest: Decimal
    to_interest: Decimal
    to_principal: Decimal
    overpayment: Decimal
    balance_after: LoanBalance

    @property
    def releases_utilised_credit(self) -> Decimal:
        """The amount of utilised credit this repayment frees on the line: its principal part."""
        return self.to_principal

    @property
    def fully_repaid(self) -> bool:
        return self.balance_after.total == 0


def allocate_repayment(balance: LoanBalance, payment: Decimal) -> RepaymentAllocation:
    """Split ``payment`` over a balance already accrued to the payment date."""
    amount = require_money(payment, "amount", positive=True)
    remaining = amount
    parts = []
    for owed in (balance.penalty_interest, balance.interest, balance.principal):
        part = min(remaining, owed)
        parts.append(part)
        remaining -= part
    to_penalty, to_interest, to_principal = parts
    after = replace(
        balance,
        penalty_interest=balance.penalty_interest - to_penalty,
        interest=balance.interest - to_interest,
        principal=balance.principal - to_principal,
    )
    return RepaymentAllocation(
        balance.accrued_to, amount, to_penalty, to_interest, to_principal, remaining, after
    )


def settle_repayment(
    balance: LoanBalance, terms: LoanTerms, paid_on: date, payment: Decimal
) -> RepaymentAllocation:
    return allocate_repayment(accrue(balance, terms, paid_on), payment)


@dataclass(frozen=True)
class LoanPosition:
    balance: LoanBalance
    allocations: tuple[RepaymentAllocation, ...]

    @property
    def principal_repaid(self) -> Decimal:
        return sum((a.to_principal for a in self.allocations), ZERO)

    @property
    def interest_paid(self) -> Decimal:
        return sum((a.to_interest + a.to_penalty_interest for a in self.allocations), ZERO)


def loan_position(
    terms: LoanTerms,
    disbursements: Sequence[tuple[date, Decimal]],
    repayments: Sequence[tuple[date, Decimal]],
    as_of: date,
) -> LoanPosition:
    """Replay tranches and repayments (same day: tranche first) and accrue to ``as_of``.

    ``balance.total`` is then the pay-off amount on ``as_of``.
    """
    require_rate(terms.annual_rate, "annual_rate")
    if not disbursements:
        raise InvalidInput(
            "a loan position needs at least one disbursement", field="disbursements", code="not_disbursed"
        )
    events = sorted(
        [(d, 0, require_money(a, "disbursements.amount", positive=True)) for d, a in disbursements]
        + [(d, 1, require_money(a, "repayments.amount", positive=True)) for d, a in repayments]
    )
    if events[0][1] == 1:
        raise InvalidInput(
            "a repayment precedes the first disbursement",
            field="repayments",
            code="repayment_before_disbursement",
        )
    balance = LoanBalance(principal=ZERO, accrued_to=events[0][0])
    allocations = []
    for on, kind, amount in events:
        if on > as_of:
            break
        balance = accrue(balance, terms, on)
        if kind == 0:
            balance = replace(balance, principal=balance.principal + amount)
        else:
            allocation = allocate_repayment(balance, amount)
            allocations.append(allocation)
            balance = allocation.balance_after
    return LoanPosition(accrue(balance, terms, max(as_of, balance.accrued_to)), tuple(allocations))
