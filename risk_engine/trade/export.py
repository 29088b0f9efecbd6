"""The trade the platform sent about the dealer, in the data-subject export (``compliance.privacy``).

One entry per kind of record an event created — orders (status changes are folded into their milestone
times), bills, payments, invoices, deliveries, returns, related-party links — each with the platform's
``external_id`` and when the engine learned of it. Trade grows with every order, for years, so each kind is
its complete count plus the most recent ``privacy.RECENT_ITEMS`` by business time, newest first; the
platform holds the originals.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from compliance.keys import KeyProvider
from compliance.privacy import RETAINED_PSEUDONYMISED, ExportSection, recent_items, record_of
from risk_engine.parties.models import Dealer
from risk_engine.trade.models import Delivery, Invoice, Order, Payment, PaymentDue, RelatedPartyLink, Return


def _statements(dealer: Dealer) -> dict[str, Select[Any]]:
    of_orders = select(Order.id).where(Order.dealer_id == dealer.id)
    return {
        "orders": select(Order).where(Order.dealer_id == dealer.id).order_by(Order.placed_at.desc(),
                                                                             Order.id.desc()),
        "payment_dues": select(PaymentDue).where(PaymentDue.dealer_id == dealer.id)
        .order_by(PaymentDue.due_on.desc(), PaymentDue.id.desc()),
        "payments": select(Payment).where(Payment.dealer_id == dealer.id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc()),
        "invoices": select(Invoice).where(Invoice.order_id.in_(of_orders))
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc()),
        "deliveries": select(Delivery).where(Delivery.order_id.in_(of_orders))
        .order_by(Delivery.delivered_at.desc(), Delivery.id.desc()),
        "returns": select(Return).where(Return.dealer_id == dealer.id)
        .order_by(Return.returned_at.desc(), Return.id.desc()),
        "related_parties": select(RelatedPartyLink).where(RelatedPartyLink.dealer_id == dealer.id)
        .order_by(RelatedPartyLink.recorded_at.desc(), RelatedPartyLink.id.desc()),
    }


def trade_of(session: Session, dealer: Dealer, keys: KeyProvider) -> dict[str, Any]:
    """Per kind: ``count`` (all held), ``truncated``, and the most recent ``items``."""
    return {kind: recent_items(session, statement, record_of) for kind, statement in _statements(dealer).items()}


EXPORT_SECTIONS = (
    ExportSection("trade", RETAINED_PSEUDONYMISED,
                  "the platform's trade records as the engine received them: the inputs of decisions already "
                  "taken, kept to reproduce and explain them for the statutory retention period; they refer to "
                  "the dealer only by its random id (and invoices by its credit code, which is retained)",
                  trade_of),
)
