"""Orders and what follows them: deliveries, returns, invoices and trade-credit payments.

All arrays are one entry per order (or per follow-up event); time is UTC seconds or CST day
numbers as in ``timeline.py``; nothing loops over orders in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from risk_engine.demo.behaviour import DealerBehaviour, payment_delays, seconds_of_business_day
from risk_engine.demo.reference import INDUSTRIES
from risk_engine.demo.timeline import DAY, HOUR, MONTH_DAYS, NEVER, local_day, local_instant, never_after

EARLY_CANCELLATION_RATE = 0.03
ACCEPTANCE_DAYS = 7  # goods are inspected for a week; returns happen inside it, the bill after it
RELATED_SUPPLIER_SHARE = 0.65  # of a circular trader's orders placed with its related supplier
INVOICE_MISMATCH_KINDS = ("amount", "buyer", "date")
ORDER_STATUSES = ("placed", "confirmed", "shipped", "delivered", "cancelled", "returned")
MISUSE_KINDS = (
    "financed_then_cancelled",
    "invoice_mismatch",
    "no_delivery",
    "duplicate_financing",
    "diverted_funds",
)
NO_MISUSE = -1


@dataclass(frozen=True)
class SupplierChoice:
    """Each dealer buys from up to ``slots.shape[1]`` suppliers with fixed shares."""

    slots: np.ndarray  # (n_dealers, k) supplier positions
    cumulative_shares: np.ndarray  # (n_dealers, k), last column 1.0
    related_supplier: np.ndarray  # supplier position of a circular trader's related party, -1 if none


@dataclass
class OrderBook:
    dealer: np.ndarray
    supplier: np.ndarray
    amount_fen: np.ndarray
    placed: np.ndarray
    recorded: np.ndarray
    confirmed: np.ndarray
    cancelled: np.ndarray
    shipped: np.ndarray
    delivered: np.ndarray
    misuse: np.ndarray  # index into MISUSE_KINDS, NO_MISUSE where clean
    invoice_mismatch: np.ndarray  # index into INVOICE_MISMATCH_KINDS, -1 = none

    def __len__(self) -> int:
        return len(self.dealer)

    def take(self, keep: np.ndarray) -> OrderBook:
        return replace(self, **{k: v[keep] for k, v in vars(self).items()})


def choose_suppliers(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    supplier_industry: np.ndarray,
    popularity: np.ndarray,
    related_supplier: np.ndarray,
    max_slots: int = 5,
) -> SupplierChoice:
    """Each dealer picks 1-5 suppliers of its industry, popular brands more often, with Dirichlet shares."""
    n = len(behaviour)
    order = np.argsort(supplier_industry, kind="stable")
    weights = popularity[order]
    cumulative = np.cumsum(weights)
    industry_sorted = supplier_industry[order]
    lo = np.searchsorted(industry_sorted, np.arange(len(INDUSTRIES)), side="left")
    hi = np.searchsorted(industry_sorted, np.arange(len(INDUSTRIES)), side="right")
    base = np.concatenate([[0.0], cumulative])
    ind = behaviour.industry
    target = base[lo[ind], None] + rng.random((n, max_slots)) * (base[hi[ind]] - base[lo[ind]])[:, None]
    picked = np.searchsorted(cumulative, target, side="right")
    picked = np.clip(picked, lo[ind][:, None], hi[ind][:, None] - 1)
    slots = order[picked]
    n_slots = np.minimum(1 + rng.poisson(1.2, n), max_slots)
    shares = rng.gamma(0.8, 1.0, (n, max_slots)) * (np.arange(max_slots) < n_slots[:, None])
    shares[:, 0] += 1e-9
    cumulative_shares = np.cumsum(shares, axis=1) / shares.sum(axis=1, keepdims=True)
    cumulative_shares[:, -1] = 1.0
    return SupplierChoice(slots, cumulative_shares, related_supplier)


def place_orders(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    suppliers: SupplierChoice,
    month_days: np.ndarray,
    daily: np.ndarray,
) -> OrderBook:
    """Poisson orders per dealer-month, spread over the month's days by the industry's daily
    activity (Spring Festival included), thinned to the dealer's active life and its decline.

    ``daily`` is (industries, days from month_days[0]) relative activity.
    """
    n, months = len(behaviour), len(month_days) - 1
    starts, ends = month_days[:-1], month_days[1:]
    first = starts[0]
    cumulative = np.cumsum(daily, axis=1)
    before = np.concatenate([np.zeros((len(daily), 1)), cumulative], axis=1)  # before[i, d] = sum of days < d
    activity = (before[:, ends - first] - before[:, starts - first]) / (ends - starts)
    onboard, last = behaviour.onboarded_day, behaviour.last_order_day
    mid = (starts + ends) / 2
    months_on_platform = np.maximum(0.0, (mid[None, :] - onboard[:, None]) / MONTH_DAYS)
    active = (ends[None, :] > onboard[:, None]) & (starts[None, :] < last[:, None])
    rate = (
        behaviour.orders_per_month[:, None]
        * activity[behaviour.industry]
        * np.exp(behaviour.growth_per_month[:, None] * months_on_platform)
        * active
    )
    counts = rng.poisson(rate).ravel()
    cell = np.repeat(np.arange(n * months, dtype=np.int64), counts)
    dealer, month = cell // months, cell % months
    day = (
        _activity_weighted_days(
            rng, behaviour.industry[dealer], starts[month] - first, ends[month] - first, before
        )
        + first
    )

    decline = behaviour.deterioration(dealer, day)
    after_distress = day >= behaviour.distress_day[dealer]
    keep_probability = np.where(after_distress, 0.4, 1.0 - 0.55 * decline)
    keep = (day >= onboard[dealer]) & (day < last[dealer]) & (rng.random(len(cell)) < keep_probability)
    dealer, day = dealer[keep], day[keep]
    m = len(dealer)

    slot = (rng.random(m)[:, None] >= suppliers.cumulative_shares[dealer]).sum(axis=1)
    supplier = suppliers.slots[dealer, np.minimum(slot, suppliers.slots.shape[1] - 1)]
    related = suppliers.related_supplier[dealer]
    to_related = (related >= 0) & (rng.random(m) < RELATED_SUPPLIER_SHARE)
    supplier = np.where(to_related, related, supplier)

    value_yuan = behaviour.order_value_yuan[dealer] * rng.lognormal(0.0, 0.55, m)
    value_yuan = np.where(to_related, np.ceil(value_yuan / 10_000) * 10_000, np.maximum(value_yuan, 100.0))
    amount_fen = np.round(value_yuan * 100).astype(np.int64)

    placed = local_instant(day, seconds_of_business_day(rng, m))
    cancelled_early = rng.random(m) < EARLY_CANCELLATION_RATE
    confirmed = placed + np.clip(rng.exponential(4 * HOUR, m), 300, 48 * HOUR).astype(np.int64)
    shipped = confirmed + rng.integers(12 * HOUR, 4 * DAY, m)
    delivered = shipped + rng.integers(1 * DAY, 6 * DAY, m)
    return OrderBook(
        dealer=dealer,
        supplier=supplier,
        amount_fen=amount_fen,
        placed=placed,
        recorded=placed + rng.integers(1, 300, m),
        confirmed=np.where(cancelled_early, NEVER, confirmed),
        cancelled=np.where(cancelled_early, placed + rng.integers(HOUR // 2, 20 * HOUR, m), NEVER),
        shipped=np.where(cancelled_early, NEVER, shipped),
        delivered=np.where(cancelled_early, NEVER, delivered),
        misuse=np.full(m, NO_MISUSE, dtype=np.int8),
        invoice_mismatch=np.full(m, -1, dtype=np.int64),
    )


def _activity_weighted_days(
    rng: np.random.Generator, industry: np.ndarray, lo: np.ndarray, hi: np.ndarray, before: np.ndarray
) -> np.ndarray:
    """Day offsets in [lo, hi) drawn with probability proportional to the industry's daily activity."""
    span = before.shape[1]
    flat = (before + np.arange(len(before))[:, None] * (before.max() + 1.0)).ravel()  # increasing overall
    base = industry * span
    target = flat[base + lo] + rng.random(len(industry)) * (flat[base + hi] - flat[base + lo])
    day = np.searchsorted(flat, target, side="right") - 1 - base
    return np.clip(day, lo, hi - 1)


def truncate_at(orders: OrderBook, end: int) -> OrderBook:
    """What the platform knows at the extract: later status changes have not happened yet."""
    return replace(
        orders,
        confirmed=never_after(orders.confirmed, end),
        cancelled=never_after(orders.cancelled, end),
        shipped=never_after(orders.shipped, end),
        delivered=never_after(orders.delivered, end),
    )


@dataclass(frozen=True)
class FollowUps:
    """Per-order follow-up events, NEVER where an order has none (one row each once assembled)."""

    returned: np.ndarray  # instant of the return
    return_recorded: np.ndarray
    return_fen: np.ndarray
    full_return: np.ndarray
    delivery_recorded: np.ndarray
    bill_recorded: np.ndarray  # trade-credit obligation known to the platform
    due_day: np.ndarray
    paid_day: np.ndarray
    paid_recorded: np.ndarray
    invoice_day: np.ndarray
    invoice_recorded: np.ndarray
    invoice_fen: np.ndarray  # amount excluding VAT
    tax_fen: np.ndarray


def follow_ups(
    rng: np.random.Generator,
    behaviour: DealerBehaviour,
    orders: OrderBook,
    financed: np.ndarray,
    circular: np.ndarray,
    end: int,
) -> FollowUps:
    """Returns, deliveries, bills, payments and invoices of orders already truncated at ``end``.

    Financed orders carry no trade-credit bill: the bank paid the supplier (entrusted payment)
    and the dealer owes the bank instead (see ``financing.py``).
    """
    m = len(orders)
    dealer = orders.dealer
    delivered = orders.delivered != NEVER
    delivered_day = local_day(orders.delivered)
    z = behaviour.creditworthiness[dealer]

    decline = behaviour.deterioration(dealer, np.where(delivered, delivered_day, 0))
    p_return = 0.025 * np.exp(-0.35 * z) * (1.0 + 3.0 * decline) * np.where(circular[dealer], 3.0, 1.0)
    has_return = delivered & (rng.random(m) < p_return)
    returned = np.where(has_return, orders.delivered + rng.integers(DAY, 6 * DAY, m), NEVER)
    return_recorded = never_after(np.where(has_return, returned + rng.integers(60, HOUR, m), NEVER), end)
    has_return = return_recorded != NEVER
    full = has_return & (rng.random(m) < 0.3)
    partial_fen = np.round(orders.amount_fen * rng.uniform(0.05, 0.5, m)).astype(np.int64)
    return_fen = np.where(full, orders.amount_fen, np.where(has_return, partial_fen, 0))
    net_fen = orders.amount_fen - return_fen

    delivery_recorded = never_after(
        np.where(delivered, orders.delivered + rng.integers(300, 6 * HOUR, m), NEVER), end
    )

    acceptance_day = delivered_day + ACCEPTANCE_DAYS
    billed = delivered & ~full & ~financed
    bill_recorded = never_after(
        np.where(billed, local_instant(acceptance_day, rng.integers(9 * HOUR, 11 * HOUR, m)), NEVER), end
    )
    billed = bill_recorded != NEVER
    due_day = np.where(billed, delivered_day + behaviour.payment_terms_days[dealer], NEVER)
    delay = payment_delays(rng, behaviour, dealer, np.where(billed, due_day, 0))
    paid_day = np.where(billed & (delay != NEVER), np.maximum(due_day + delay, acceptance_day), NEVER)
    paid_recorded = never_after(
        np.where(paid_day != NEVER, local_instant(paid_day + 1, rng.integers(9 * HOUR, 18 * HOUR, m)), NEVER),
        end,
    )
    paid_day = np.where(paid_recorded == NEVER, NEVER, paid_day)

    invoiced = delivered & ~full
    invoice_day = np.where(invoiced, acceptance_day + rng.integers(0, 6, m), NEVER)
    invoice_recorded = never_after(
        np.where(
            invoiced,
            local_instant(invoice_day + rng.integers(0, 4, m), seconds_of_business_day(rng, m)),
            NEVER,
        ),
        end,
    )
    invoice_day = np.where(invoice_recorded == NEVER, NEVER, invoice_day)
    vat = np.array([i.vat_rate for i in INDUSTRIES])[behaviour.industry[dealer]]
    inflated = orders.invoice_mismatch == INVOICE_MISMATCH_KINDS.index("amount")
    invoice_gross = np.where(
        inflated, np.round(net_fen * rng.uniform(1.15, 1.6, m)).astype(np.int64), net_fen
    )
    invoice_fen = np.round(invoice_gross / (1.0 + vat)).astype(np.int64)
    backdated = orders.invoice_mismatch == INVOICE_MISMATCH_KINDS.index("date")
    invoice_day = np.where(
        backdated & (invoice_day != NEVER), local_day(orders.placed) - rng.integers(3, 30, m), invoice_day
    )
    return FollowUps(
        returned=np.where(has_return, returned, NEVER),
        return_recorded=return_recorded,
        return_fen=return_fen,
        full_return=full,
        delivery_recorded=delivery_recorded,
        bill_recorded=bill_recorded,
        due_day=due_day,
        paid_day=paid_day,
        paid_recorded=paid_recorded,
        invoice_day=invoice_day,
        invoice_recorded=invoice_recorded,
        invoice_fen=invoice_fen,
        tax_fen=invoice_gross - invoice_fen,
    )


def order_status(orders: OrderBook, follow: FollowUps) -> np.ndarray:
    """Index into ORDER_STATUSES of each order's latest status at the extract."""
    status = np.zeros(len(orders), dtype=np.int8)
    for name, happened in (
        ("confirmed", orders.confirmed != NEVER),
        ("shipped", orders.shipped != NEVER),
        ("delivered", orders.delivered != NEVER),
        ("returned", follow.full_return),
        ("cancelled", orders.cancelled != NEVER),
    ):
        status[happened] = ORDER_STATUSES.index(name)
    return status
