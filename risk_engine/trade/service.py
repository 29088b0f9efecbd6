"""Ingestion of trade events: each item validated on its own, stored in its own savepoint, so a
rejected item never sinks the good ones; idempotent per (type, external_id).

The batch commits once (the caller's transaction) together with one audit entry that lists every
event it stored.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance import audit
from compliance.audit import canonical_json
from risk_engine.db import utcnow
from risk_engine.errors import DomainError
from risk_engine.ids import new_id
from risk_engine.parties.models import Dealer, Supplier
from risk_engine.trade import models as m
from risk_engine.trade import schemas as s

CLOCK_SKEW = timedelta(minutes=5)
_MILESTONE = {"confirmed": "confirmed_at", "shipped": "shipped_at", "delivered": "delivered_at",
              "cancelled": "cancelled_at", "returned": "returned_at"}
_ID_PREFIX = {"order": "ord", "order_status": "ost", "payment_due": "due", "payment": "pay",
              "invoice": "inv", "delivery": "dlv", "return": "ret", "related_party": "rel"}


class Rejected(DomainError):
    """One event refused; ``field`` names the offending field of the item."""


@dataclass
class IngestReport:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        created = sum(1 for a in self.accepted if a["status"] == "created")
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "counts": {"received": len(self.accepted) + len(self.rejected), "created": created,
                       "duplicates": len(self.accepted) - created, "rejected": len(self.rejected)},
        }


def content_hash(raw: dict[str, Any]) -> str:
    body = {k: v for k, v in raw.items() if k != "recorded_at"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


class References:
    """Resolves the platform's references (external id or engine id), caching what it found."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[type, str], Any] = {}

    def _find(self, model: type, ref: str, what: str, field_name: str) -> Any:
        key = (model, ref)
        if key not in self._cache:
            found = self.session.scalars(
                select(model).where(or_(model.id == ref, model.external_id == ref))
            ).first()
            if found is None:
                raise Rejected(f"unknown {what} '{ref}'", field=field_name, code=f"unknown_{what}")
            self._cache[key] = found
        return self._cache[key]

    def dealer(self, ref: str) -> Dealer:
        return self._find(Dealer, ref, "dealer", "dealer")

    def supplier(self, ref: str) -> Supplier:
        return self._find(Supplier, ref, "supplier", "supplier")

    def order(self, ref: str) -> m.Order:
        return self._find(m.Order, ref, "order", "order")

    def payment_due(self, ref: str) -> m.PaymentDue:
        return self._find(m.PaymentDue, ref, "payment_due", "payment_due")


def ingest_events(session: Session, items: Iterable[dict[str, Any]], *, actor: str) -> IngestReport:
    report = IngestReport()
    refs = References(session)
    now = utcnow()
    stored: list[list[str]] = []
    for index, raw in enumerate(items):
        kind = raw.get("type") if isinstance(raw, dict) else None
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        try:
            event = s.EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            report.rejected.append({"index": index, "type": kind, "external_id": ext,
                                    "errors": _validation_errors(exc)})
            continue
        digest = content_hash(raw)
        previous = session.scalars(
            select(m.TradeEvent).where(m.TradeEvent.kind == event.type,
                                       m.TradeEvent.external_id == event.external_id)
        ).first()
        if previous is not None:
            if previous.content_hash == digest:
                report.accepted.append({"index": index, "type": event.type, "external_id": event.external_id,
                                        "status": "duplicate", "id": previous.subject_id})
            else:
                report.rejected.append({"index": index, "type": event.type, "external_id": event.external_id,
                                        "errors": [{"field": "external_id", "reason":
                                                    "this external_id was already sent with different content"}]})
            continue
        try:
            with session.begin_nested():
                subject_id = apply_event(session, refs, event, now=now)
                session.add(m.TradeEvent(kind=event.type, external_id=event.external_id, content_hash=digest,
                                         subject_id=subject_id, recorded_at=event.recorded_at or now))
        except Rejected as exc:
            report.rejected.append({"index": index, "type": event.type, "external_id": event.external_id,
                                    "errors": [{"field": exc.field, "reason": exc.detail}]})
            continue
        report.accepted.append({"index": index, "type": event.type, "external_id": event.external_id,
                                "status": "created", "id": subject_id})
        stored.append([event.type, event.external_id, digest])
    if stored:
        audit.record(session, actor=actor, action="trade.events_ingested", subject_type="trade_batch",
                     subject_id=new_id("bat"), payload={"events": stored, "rejected": len(report.rejected)})
    return report


def _validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        # drop the discriminator tag pydantic puts first ("order", "payment", ...)
        if len(loc) > 1 and loc[0] in _ID_PREFIX:
            loc = loc[1:]
        reason = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        out.append({"field": ".".join(loc) or "type", "reason": reason})
    return out


def apply_event(session: Session, refs: References, event: Any, *, now: datetime) -> str:
    """Store one validated event; raise ``Rejected`` naming the field when it contradicts what we hold."""
    recorded_at = event.recorded_at or now
    if recorded_at > now + CLOCK_SKEW:
        raise Rejected("recorded_at is in the future", field="recorded_at")
    handler = _HANDLERS[event.type]
    return handler(session, refs, event, recorded_at)


def _order(session: Session, refs: References, e: s.OrderEvent, recorded_at: datetime) -> str:
    dealer, supplier = refs.dealer(e.dealer), refs.supplier(e.supplier)
    _unique_external_id(session, m.Order, e.external_id)
    milestone = _MILESTONE.get(e.status)
    if milestone and getattr(e, milestone) is None:
        raise Rejected(f"status '{e.status}' needs {milestone}", field=milestone)
    order = m.Order(
        id=new_id("ord"), external_id=e.external_id, dealer_id=dealer.id, supplier_id=supplier.id,
        amount=e.amount, status=e.status, placed_at=e.placed_at, confirmed_at=e.confirmed_at,
        shipped_at=e.shipped_at, delivered_at=e.delivered_at, cancelled_at=e.cancelled_at,
        returned_at=e.returned_at, recorded_at=recorded_at,
    )
    session.add(order)
    session.flush()
    return order.id


_TERMINAL = {"cancelled", "returned"}
_ORDER_RANK = {"placed": 0, "confirmed": 1, "shipped": 2, "delivered": 3}


def _order_status(session: Session, refs: References, e: s.OrderStatusEvent, recorded_at: datetime) -> str:
    order = refs.order(e.order)
    if e.at < order.placed_at:
        raise Rejected("status change is before the order was placed", field="at")
    if order.status in _TERMINAL:
        raise Rejected(f"order is already {order.status}", field="status")
    if e.status == "returned" and order.status != "delivered":
        raise Rejected("only a delivered order can be returned", field="status")
    if e.status in _ORDER_RANK and _ORDER_RANK[e.status] <= _ORDER_RANK[order.status]:
        raise Rejected(f"order is already {order.status}", field="status")
    setattr(order, _MILESTONE[e.status], e.at)
    order.status = e.status
    session.flush()
    return order.id


def _payment_due(session: Session, refs: References, e: s.PaymentDueEvent, recorded_at: datetime) -> str:
    order = refs.order(e.order)
    _unique_external_id(session, m.PaymentDue, e.external_id)
    if e.due_on < order.placed_at.date():
        raise Rejected("due date is before the order was placed", field="due_on")
    paid_amount = e.paid_amount if e.paid_amount is not None else (e.amount if e.paid_on else Decimal("0"))
    if paid_amount > e.amount:
        raise Rejected("paid_amount exceeds the amount due", field="paid_amount")
    if e.paid_on is None and paid_amount > 0:
        raise Rejected("paid_amount given without paid_on", field="paid_on")
    bill = m.PaymentDue(
        id=new_id("due"), external_id=e.external_id, order_id=order.id, dealer_id=order.dealer_id,
        amount=e.amount, due_on=e.due_on, paid_amount=paid_amount,
        paid_on=e.paid_on if paid_amount == e.amount else None, recorded_at=recorded_at,
    )
    session.add(bill)
    session.flush()
    return bill.id


def _payment(session: Session, refs: References, e: s.PaymentEvent, recorded_at: datetime) -> str:
    bill = refs.payment_due(e.payment_due)
    _unique_external_id(session, m.Payment, e.external_id)
    outstanding = bill.amount - bill.paid_amount
    if e.amount > outstanding:
        raise Rejected(f"payment exceeds the outstanding {outstanding}", field="amount")
    payment = m.Payment(id=new_id("pay"), external_id=e.external_id, payment_due_id=bill.id,
                        dealer_id=bill.dealer_id, amount=e.amount, paid_on=e.paid_on, recorded_at=recorded_at)
    bill.paid_amount = bill.paid_amount + e.amount
    if bill.paid_amount == bill.amount:
        bill.paid_on = e.paid_on
    session.add(payment)
    session.flush()
    return payment.id


def _invoice(session: Session, refs: References, e: s.InvoiceEvent, recorded_at: datetime) -> str:
    order = refs.order(e.order)
    _unique_external_id(session, m.Invoice, e.external_id)
    if e.issued_on < order.placed_at.date():
        raise Rejected("invoice issued before the order was placed", field="issued_on")
    duplicate = session.scalars(select(m.Invoice.id).where(
        m.Invoice.invoice_code == e.invoice_code, m.Invoice.invoice_number == e.invoice_number)).first()
    if duplicate:
        raise Rejected("an invoice with this code and number is already recorded", field="invoice_number")
    invoice = m.Invoice(
        id=new_id("inv"), external_id=e.external_id, order_id=order.id, invoice_code=e.invoice_code,
        invoice_number=e.invoice_number, seller_credit_code=e.seller_credit_code,
        buyer_credit_code=e.buyer_credit_code, amount=e.amount, tax=e.tax, issued_on=e.issued_on,
        recorded_at=recorded_at,
    )
    session.add(invoice)
    session.flush()
    return invoice.id


def _delivery(session: Session, refs: References, e: s.DeliveryEvent, recorded_at: datetime) -> str:
    order = refs.order(e.order)
    _unique_external_id(session, m.Delivery, e.external_id)
    if e.delivered_at < order.placed_at:
        raise Rejected("delivery is before the order was placed", field="delivered_at")
    if order.status == "cancelled":
        raise Rejected("the order was cancelled", field="order")
    delivery = m.Delivery(id=new_id("dlv"), external_id=e.external_id, order_id=order.id,
                          delivered_at=e.delivered_at, carrier=e.carrier, tracking_number=e.tracking_number,
                          recorded_at=recorded_at)
    if order.delivered_at is None:
        order.delivered_at = e.delivered_at
        if order.status in ("placed", "confirmed", "shipped"):
            order.status = "delivered"
    session.add(delivery)
    session.flush()
    return delivery.id


def _return(session: Session, refs: References, e: s.ReturnEvent, recorded_at: datetime) -> str:
    order = refs.order(e.order)
    _unique_external_id(session, m.Return, e.external_id)
    if e.returned_at < order.placed_at:
        raise Rejected("return is before the order was placed", field="returned_at")
    if e.amount > order.amount:
        raise Rejected("return exceeds the order amount", field="amount")
    ret = m.Return(id=new_id("ret"), external_id=e.external_id, order_id=order.id, dealer_id=order.dealer_id,
                   amount=e.amount, returned_at=e.returned_at, reason=e.reason, recorded_at=recorded_at)
    session.add(ret)
    session.flush()
    return ret.id


def _related_party(session: Session, refs: References, e: s.RelatedPartyEvent, recorded_at: datetime) -> str:
    dealer, supplier = refs.dealer(e.dealer), refs.supplier(e.supplier)
    _unique_external_id(session, m.RelatedPartyLink, e.external_id)
    link = m.RelatedPartyLink(id=new_id("rel"), external_id=e.external_id, dealer_id=dealer.id,
                              supplier_id=supplier.id, kind=e.kind, evidence=e.evidence, recorded_at=recorded_at)
    session.add(link)
    session.flush()
    return link.id


def _unique_external_id(session: Session, model: type, external_id: str) -> None:
    if session.scalars(select(model.id).where(model.external_id == external_id)).first():
        raise Rejected(f"external_id '{external_id}' is already used", field="external_id")


_HANDLERS = {
    "order": _order, "order_status": _order_status, "payment_due": _payment_due, "payment": _payment,
    "invoice": _invoice, "delivery": _delivery, "return": _return, "related_party": _related_party,
}
