"""Credit lines, order loans and the fund-misuse cases the monitoring capability must find.

A minority of dealers hold a revolving line at one partner bank and finance part of their orders
with order loans (80 % of the order, entrusted payment to the supplier). Loans never push a line
past its limit. A small share of line holders misuse the product in one of five ways:

- ``financed_then_cancelled``: the order is cancelled after disbursement, the money does not come back;
- ``invoice_mismatch``: the invoice disagrees with the order (inflated amount, wrong buyer, backdated);
- ``no_delivery``: paper trade, the order claims delivery but logistics never recorded one;
- ``duplicate_financing``: the same order financed again at a second bank;
- ``diverted_funds``: the disbursement went to an account other than the supplier's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from risk_engine.demo.behaviour import DealerBehaviour, payment_delays
from risk_engine.demo.timeline import CST_OFFSET, DAY, HOUR, NEVER, local_day, local_instant, never_after
from risk_engine.demo.trade import INVOICE_MISMATCH_KINDS, MISUSE_KINDS, NO_MISUSE, OrderBook

DUPLICATE = MISUSE_KINDS.index("duplicate_financing")
CANCELLED = MISUSE_KINDS.index("financed_then_cancelled")
BANK_SHARES = np.array([0.45, 0.35, 0.20])
TENORS_DAYS = np.array([30, 60, 90, 120, 180])
MAX_TENOR_DAYS = np.array([180, 120, 180])  # per bank, as in parties.make_banks
APR_BP = np.array([520, 610, 580])
LOAN_TO_ORDER = 0.8
MISUSE_SHARE_OF_LINE_HOLDERS = 0.07
MISUSE_SHARE_OF_LOANS = 0.35


@dataclass(frozen=True)
class CreditLines:
    dealer: np.ndarray
    bank: np.ndarray  # 0-based
    limit_fen: np.ndarray
    granted: np.ndarray  # instant
    recorded: np.ndarray


@dataclass(frozen=True)
class LoanBook:
    order: np.ndarray  # position in the OrderBook
    dealer: np.ndarray
    bank: np.ndarray
    principal_fen: np.ndarray
    tenor_days: np.ndarray
    disbursed: np.ndarray
    recorded: np.ndarray
    due_day: np.ndarray
    repaid_day: np.ndarray
    repaid_recorded: np.ndarray
    diverted: np.ndarray  # paid to the dealer's own account instead of the supplier's
    misuse: np.ndarray  # index into MISUSE_KINDS, NO_MISUSE where clean

    def take(self, keep: np.ndarray) -> LoanBook:
        return replace(self, **{k: v[keep] for k, v in vars(self).items()})


def misuse_kinds(rng: np.random.Generator, holds_line: np.ndarray) -> np.ndarray:
    """Per dealer: the index of the misuse it commits, NO_MISUSE for honest dealers."""
    n = len(holds_line)
    misuser = holds_line & (rng.random(n) < MISUSE_SHARE_OF_LINE_HOLDERS)
    return np.where(misuser, rng.integers(0, len(MISUSE_KINDS), n), NO_MISUSE).astype(np.int8)


def grant_credit_lines(
    rng: np.random.Generator, behaviour: DealerBehaviour, end_day: int
) -> tuple[CreditLines, np.ndarray]:
    """Banks grant lines three to five months after onboarding, better dealers more often.

    Returns the lines and the misuse kind of each dealer (NO_MISUSE for honest ones); duplicate
    financers get a second line at another bank.
    """
    n = len(behaviour)
    z = behaviour.creditworthiness
    granted_day = behaviour.onboarded_day + 90 + rng.integers(0, 60, n)
    p_line = 1.0 / (1.0 + np.exp(-(-0.9 + 0.9 * z)))
    holds = (granted_day < end_day - 30) & (rng.random(n) < p_line)
    kinds = misuse_kinds(rng, holds)
    monthly_yuan = behaviour.orders_per_month * behaviour.order_value_yuan
    limit_yuan = np.round(np.clip(2.5 * monthly_yuan, 50_000, 5_000_000) / 10_000) * 10_000
    bank = rng.choice(3, size=n, p=BANK_SHARES)

    dealers = np.flatnonzero(holds)
    second = np.flatnonzero(kinds == DUPLICATE)
    dealer = np.concatenate([dealers, second])
    line_bank = np.concatenate([bank[dealers], (bank[second] + 1 + rng.integers(0, 2, len(second))) % 3])
    granted = local_instant(granted_day[dealer], rng.integers(9 * HOUR, 18 * HOUR, len(dealer)))
    lines = CreditLines(
        dealer=dealer,
        bank=line_bank,
        limit_fen=(limit_yuan[dealer] * 100).astype(np.int64),
        granted=granted,
        recorded=granted + rng.integers(60, HOUR, len(dealer)),
    )
    return lines, kinds


def _repayments(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    dealer: np.ndarray,
    disbursed: np.ndarray,
    tenor: np.ndarray,
    end: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    due_day = local_day(disbursed) + tenor
    delay = payment_delays(rng, behaviour, dealer, due_day)
    repaid_day = np.where(delay == NEVER, NEVER, np.maximum(due_day + delay, local_day(disbursed) + 1))
    repaid_recorded = np.where(
        repaid_day == NEVER, NEVER, local_instant(repaid_day, rng.integers(10 * HOUR, 30 * HOUR, len(dealer)))
    )
    return due_day, repaid_day, repaid_recorded


def _within_limits(loans: LoanBook, lines: CreditLines, n_dealers: int) -> np.ndarray:
    """Drop every loan that, when disbursed, would have pushed its line past the limit.

    Dropping loans only lowers the outstanding balance at every instant, and the balance peaks at
    disbursements, so one pass leaves a history in which no line was ever overdrawn.
    """
    limit = np.zeros(n_dealers * 3, dtype=np.int64)
    limit[lines.dealer * 3 + lines.bank] = lines.limit_fen
    key = loans.dealer * 3 + loans.bank
    repaid_at = np.where(loans.repaid_day == NEVER, NEVER, loans.repaid_day * DAY - CST_OFFSET)
    has_repayment = repaid_at != NEVER
    ev_key = np.concatenate([key, key[has_repayment]])
    ev_time = np.concatenate([loans.disbursed, repaid_at[has_repayment]])
    ev_kind = np.concatenate(
        [np.ones(len(key), dtype=np.int64), np.zeros(has_repayment.sum(), dtype=np.int64)]
    )
    ev_amount = np.concatenate([loans.principal_fen, -loans.principal_fen[has_repayment]])
    ev_loan = np.concatenate([np.arange(len(key)), np.flatnonzero(has_repayment)])
    order = np.lexsort((ev_kind, ev_time, ev_key))  # repayments before disbursements at equal times
    running = np.cumsum(ev_amount[order])
    sorted_key = ev_key[order]
    group_start = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    before_group = np.maximum.accumulate(np.where(group_start, np.arange(len(order)), 0))
    outstanding = running - np.r_[0, running][before_group]
    is_disbursal = ev_kind[order] == 1
    over = is_disbursal & (outstanding > limit[sorted_key])
    keep = np.ones(len(key), dtype=bool)
    keep[ev_loan[order][over]] = False
    return keep


def finance_orders(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    orders: OrderBook,
    lines: CreditLines,
    kinds: np.ndarray,
    end: int,
) -> tuple[LoanBook, OrderBook]:
    """Order loans on the line holders' confirmed orders, and the orders as misuse left them."""
    n = len(behaviour)
    primary = np.full(n, -1, dtype=np.int64)
    granted = np.full(n, NEVER, dtype=np.int64)
    first = np.unique(lines.dealer, return_index=True)[1]
    primary[lines.dealer[first]] = lines.bank[first]
    granted[lines.dealer[first]] = lines.granted[first]
    second_bank = np.full(n, -1, dtype=np.int64)
    dup = np.setdiff1d(np.arange(len(lines.dealer)), first)
    second_bank[lines.dealer[dup]] = lines.bank[dup]

    financing_share = rng.uniform(0.2, 0.7, n)
    d = orders.dealer
    disbursed = orders.confirmed + rng.integers(HOUR, 24 * HOUR, len(orders))
    candidate = (
        (primary[d] >= 0)
        & (orders.confirmed != NEVER)
        & (orders.confirmed >= granted[d])
        & (disbursed + HOUR < end)
        & (rng.random(len(orders)) < financing_share[d])
    )
    idx = np.flatnonzero(candidate)
    twin = idx[(second_bank[d[idx]] >= 0) & (rng.random(len(idx)) < 0.5)]
    order_pos = np.concatenate([idx, twin])
    bank = np.concatenate([primary[d[idx]], second_bank[d[twin]]])
    when = np.concatenate([disbursed[idx], disbursed[twin] + rng.integers(DAY, 5 * DAY, len(twin))])
    dealer = d[order_pos]
    terms = behaviour.payment_terms_days[dealer]
    tenor = TENORS_DAYS[np.minimum(np.searchsorted(TENORS_DAYS, terms), len(TENORS_DAYS) - 1)]
    tenor = np.minimum(tenor, MAX_TENOR_DAYS[bank])
    due_day, repaid_day, repaid_recorded = _repayments(rng, behaviour, dealer, when, tenor, end)
    loans = LoanBook(
        order=order_pos,
        dealer=dealer,
        bank=bank,
        principal_fen=(orders.amount_fen[order_pos] * LOAN_TO_ORDER).astype(np.int64),
        tenor_days=tenor,
        disbursed=when,
        recorded=when + rng.integers(60, 2 * HOUR, len(order_pos)),
        due_day=due_day,
        repaid_day=repaid_day,
        repaid_recorded=repaid_recorded,
        diverted=np.zeros(len(order_pos), dtype=bool),
        misuse=np.where(np.arange(len(order_pos)) >= len(idx), DUPLICATE, NO_MISUSE).astype(np.int8),
    )
    loans = loans.take(_within_limits(loans, lines, n) & (loans.recorded < end))
    loans = replace(
        loans,
        repaid_recorded=never_after(loans.repaid_recorded, end),
        repaid_day=np.where(never_after(loans.repaid_recorded, end) == NEVER, NEVER, loans.repaid_day),
    )
    return _commit_misuse(rng, loans, orders, kinds, end)


def _commit_misuse(
    rng: np.random.Generator, loans: LoanBook, orders: OrderBook, kinds: np.ndarray, end: int
) -> tuple[LoanBook, OrderBook]:
    kind = kinds[loans.dealer]
    # the twin and its original; a twin whose original did not fit the limit is an ordinary loan
    orders_financed, times = np.unique(loans.order, return_counts=True)
    duplicated = np.isin(loans.order, orders_financed[times > 1])
    chosen = (kind != NO_MISUSE) & (kind != DUPLICATE) & (rng.random(len(kind)) < MISUSE_SHARE_OF_LOANS)
    loan_misuse = np.where(chosen, kind, np.where(duplicated, DUPLICATE, NO_MISUSE)).astype(np.int8)
    misused = loan_misuse != NO_MISUSE
    order_misuse = orders.misuse.copy()
    order_misuse[loans.order[misused]] = loan_misuse[misused]

    cancel = loans.order[loan_misuse == CANCELLED]
    cancelled = orders.cancelled.copy()
    cancelled[cancel] = never_after(
        loans.disbursed[loan_misuse == CANCELLED] + rng.integers(DAY, 10 * DAY, len(cancel)), end
    )
    shipped, delivered = orders.shipped.copy(), orders.delivered.copy()
    gone = cancel[cancelled[cancel] != NEVER]
    shipped[gone] = NEVER
    delivered[gone] = NEVER
    mismatch = orders.invoice_mismatch.copy()
    bad_invoice = loans.order[loan_misuse == MISUSE_KINDS.index("invoice_mismatch")]
    mismatch[bad_invoice] = rng.integers(0, len(INVOICE_MISMATCH_KINDS), len(bad_invoice))

    loans = replace(loans, misuse=loan_misuse, diverted=loan_misuse == MISUSE_KINDS.index("diverted_funds"))
    orders = replace(
        orders,
        misuse=order_misuse,
        cancelled=cancelled,
        shipped=shipped,
        delivered=delivered,
        invoice_mismatch=mismatch,
    )
    return loans, orders
