"""Ingestion of trade events: each item validated on its own, so a rejected item never sinks the
good ones; idempotent per (type, external_id).

Validation is pure over an in-memory view of what is already held (``Ledger``): it turns an event
into row inserts and updates, or a ``Rejected`` naming the field. Two executors apply the result:

* ``ingest_events`` (the API): item by item, each in its own savepoint;
* ``ingest_chunk`` (bulk loads): a whole chunk in a few multi-row statements, falling back to the
  item-by-item path if the database still refuses something.

Either way the caller's transaction commits the rows with one audit entry listing what was stored.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance import audit
from compliance.audit import canonical_json
from loan_monitoring.dates import business_date
from risk_engine.db import utcnow
from risk_engine.errors import DomainError
from risk_engine.ids import new_id
from risk_engine.parties.models import Dealer, Supplier
from risk_engine.trade import models as m
from risk_engine.trade import schemas as s

CLOCK_SKEW = timedelta(minutes=5)
_MILESTONE = {"confirmed": "confirmed_at", "shipped": "shipped_at", "delivered": "delivered_at",
              "cancelled": "cancelled_at", "returned": "returned_at"}
_TERMINAL = {"cancelled", "returned"}
_ORDER_RANK = {"placed": 0, "confirmed": 1, "shipped": 2, "delivered": 3}


class Rejected(DomainError):
    """One event refused; ``field`` names the offending field of the item."""


@dataclass
class IngestReport:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    stored: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        created = sum(1 for a in self.accepted if a["status"] == "created")
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "counts": {"received": len(self.accepted) + len(self.rejected), "created": created,
                       "duplicates": len(self.accepted) - created, "rejected": len(self.rejected)},
        }

    def reject(self, index: int, kind: Any, external_id: Any, errors: list[dict[str, Any]]) -> None:
        self.rejected.append({"index": index, "type": kind, "external_id": external_id, "errors": errors})


def content_hash(raw: dict[str, Any]) -> str:
    body = {k: v for k, v in raw.items() if k != "recorded_at"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


_SAFE_INTEGER = 2**53 - 1


def _canonical(body: dict[str, Any]) -> str:
    """RFC 8785 of an event, byte for byte. An event is a flat object of short ASCII strings: for those
    (and null, booleans and safe integers) JCS is the standard library's sorted, compact JSON, at a
    fraction of the cost; anything else (non-ASCII text, floats, nesting) takes ``canonical_json``."""
    if not all(type(v) is str or v is None or type(v) is bool
               or (type(v) is int and -_SAFE_INTEGER <= v <= _SAFE_INTEGER) for v in body.values()):
        return canonical_json(body)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # non-ASCII keys or text: JCS orders keys by UTF-16 code units and escapes lone surrogates
    return text if text.isascii() else canonical_json(body)


class _IdSource:
    """Ids exactly like ``risk_engine.ids.new_id`` (the prefix, then the first 20 base32 characters of 15
    random bytes), encoded a thousand at a time: one ``b32encode`` of 15,000 bytes costs what a few
    single ones do, and a bulk load makes one id per row. Emptied in a forked child, so that two
    processes never hand out the same ids."""

    BATCH = 1000

    def __init__(self) -> None:
        self._tokens: deque[str] = deque()

    def new(self, prefix: str) -> str:
        while True:
            try:
                return f"{prefix}_{self._tokens.popleft()}"
            except IndexError:
                text = base64.b32encode(secrets.token_bytes(15 * self.BATCH)).decode("ascii").lower()
                self._tokens.extend(text[i:i + 20] for i in range(0, len(text), 24))

    def clear(self) -> None:
        self._tokens.clear()


_ids = _IdSource()
os.register_at_fork(after_in_child=_ids.clear)


# --- what is already held ----------------------------------------------------------------------


@dataclass
class OrderView:
    id: str
    dealer_id: str
    supplier_id: str
    amount: Decimal
    status: str
    placed_at: datetime
    delivered_at: datetime | None
    returned: Decimal | None = None  # sum of its returns; fetched for the orders a chunk returns goods of


@dataclass
class BillView:
    id: str
    dealer_id: str
    amount: Decimal
    paid_amount: Decimal


class Ledger:
    """The slice of stored trade that validation needs, fetched in bulk and kept current in memory."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dealers: dict[str, str | None] = {}
        self.suppliers: dict[str, str | None] = {}
        self.orders: dict[str, OrderView | None] = {}
        self.bills: dict[str, BillView | None] = {}
        self.invoice_keys: set[tuple[str, str]] = set()
        self.events: dict[tuple[str, str], tuple[str, str]] = {}
        # (dealer_id, supplier_id, kind) -> the link's external_id, for the pairs fetched so far
        self.related_links: dict[tuple[str, str, str], str] = {}
        self._link_pairs: set[tuple[str, str]] = set()

    def prefetch(self, events: list[Any]) -> None:
        """One query per kind of reference for a whole chunk of validated events."""
        self._fetch_parties(Dealer, self.dealers, {e.dealer for e in events if hasattr(e, "dealer")})
        self._fetch_parties(Supplier, self.suppliers, {e.supplier for e in events if hasattr(e, "supplier")})
        self._fetch_orders({e.order for e in events if hasattr(e, "order")})
        self._fetch_returned({e.order for e in events if e.type == "return"})
        self._fetch_bills({e.payment_due for e in events if hasattr(e, "payment_due")})
        # One equality and one IN list per kind (per invoice code): SQLite answers a row-value IN
        # (``(kind, external_id) IN (...)``) by scanning the whole index, the split form by seeks.
        unseen = _grouped((e.type, e.external_id) for e in events
                          if (e.type, e.external_id) not in self.events)
        ev = m.TradeEvent
        for kind, external_ids in unseen.items():
            for batch in _batches(external_ids, 500):
                rows = self.session.execute(select(ev.kind, ev.external_id, ev.content_hash, ev.subject_id)
                                            .where(ev.kind == kind, ev.external_id.in_(batch)))
                for kind_, ext, digest, subject in rows:
                    self.events[(kind_, ext)] = (digest, subject)
        invoices = _grouped((e.invoice_code, e.invoice_number) for e in events if e.type == "invoice")
        inv = m.Invoice
        for code, numbers in invoices.items():
            for batch in _batches(numbers, 500):
                self.invoice_keys.update(self.session.execute(
                    select(inv.invoice_code, inv.invoice_number)
                    .where(inv.invoice_code == code, inv.invoice_number.in_(batch))).all())
        self._fetch_related_links([e for e in events if e.type == "related_party"])

    def refetch_related_links(self, events: list[Any]) -> None:
        """Read the links of these related_party events' pairs again (another writer may have added one)."""
        pairs = {(self.dealers.get(e.dealer), self.suppliers.get(e.supplier)) for e in events}
        self._link_pairs -= pairs
        for key in [k for k in self.related_links if k[:2] in pairs]:
            del self.related_links[key]
        self._fetch_related_links(events)

    def _fetch_parties(self, model: type, cache: dict[str, str | None], refs: set[str]) -> None:
        missing = [r for r in refs if r not in cache]
        for batch in _batches(missing, 500):
            for pid, ext in self.session.execute(
                select(model.id, model.external_id).where(or_(model.id.in_(batch), model.external_id.in_(batch)))
            ):
                cache[pid] = pid
                if ext:
                    cache[ext] = pid
        for r in missing:
            cache.setdefault(r, None)

    def _fetch_related_links(self, events: list[Any]) -> None:
        """The links held between the dealers and suppliers of a chunk's related_party events: every link
        of those dealers (a dealer has few), 500 dealers a query, kept for the pairs asked about."""
        pairs = {(self.dealers.get(e.dealer), self.suppliers.get(e.supplier)) for e in events}
        missing = {pair for pair in pairs if None not in pair and pair not in self._link_pairs}
        link = m.RelatedPartyLink
        for batch in _batches(sorted({dealer_id for dealer_id, _ in missing}), 500):
            for dealer_id, supplier_id, kind, ext in self.session.execute(
                select(link.dealer_id, link.supplier_id, link.kind, link.external_id)
                .where(link.dealer_id.in_(batch))
            ):
                if (dealer_id, supplier_id) in missing:
                    self.related_links[(dealer_id, supplier_id, kind)] = ext
        self._link_pairs |= missing

    def _fetch_orders(self, refs: set[str]) -> None:
        missing = [r for r in refs if r not in self.orders]
        o = m.Order
        for batch in _batches(missing, 500):
            for row in self.session.execute(
                select(o.id, o.external_id, o.dealer_id, o.supplier_id, o.amount, o.status, o.placed_at,
                       o.delivered_at).where(or_(o.id.in_(batch), o.external_id.in_(batch)))
            ):
                view = OrderView(row.id, row.dealer_id, row.supplier_id, row.amount, row.status, row.placed_at,
                                 row.delivered_at)
                self.orders[row.id] = self.orders[row.external_id] = view
        for r in missing:
            self.orders.setdefault(r, None)

    def _fetch_returned(self, refs: set[str]) -> None:
        views = {v.id: v for v in (self.orders.get(r) for r in refs) if v is not None and v.returned is None}
        r = m.Return
        for batch in _batches(list(views), 500):
            totals = dict(self.session.execute(
                select(r.order_id, func.sum(r.amount)).where(r.order_id.in_(batch)).group_by(r.order_id)).all())
            for oid in batch:
                views[oid].returned = Decimal(totals.get(oid) or 0)

    def _fetch_bills(self, refs: set[str]) -> None:
        missing = [r for r in refs if r not in self.bills]
        b = m.PaymentDue
        for batch in _batches(missing, 500):
            for row in self.session.execute(
                select(b.id, b.external_id, b.dealer_id, b.amount, b.paid_amount)
                .where(or_(b.id.in_(batch), b.external_id.in_(batch)))
            ):
                self.bills[row.id] = self.bills[row.external_id] = BillView(row.id, row.dealer_id, row.amount,
                                                                            row.paid_amount)
        for r in missing:
            self.bills.setdefault(r, None)

    def dealer(self, ref: str) -> str:
        return _known(self.dealers.get(ref), "dealer", ref)

    def supplier(self, ref: str) -> str:
        return _known(self.suppliers.get(ref), "supplier", ref)

    def order(self, ref: str) -> OrderView:
        return _known(self.orders.get(ref), "order", ref)

    def bill(self, ref: str) -> BillView:
        return _known(self.bills.get(ref), "payment_due", ref)


def _known(value: Any, what: str, ref: str) -> Any:
    if value is None:
        raise Rejected(f"unknown {what} '{ref}'", field=what, code=f"unknown_{what}")
    return value


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, dict[str, None]] = {}
    for first, second in pairs:
        groups.setdefault(first, {})[second] = None  # ordered, without repeats
    return {first: list(seconds) for first, seconds in groups.items()}


def _batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- validation: event -> changes ---------------------------------------------------------------


@dataclass
class Changes:
    subject_id: str
    inserts: list[tuple[type, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[type, str, dict[str, Any]]] = field(default_factory=list)
    commit_view: Callable[[], None] = lambda: None  # applied to the Ledger once the rows are stored


def plan_event(ledger: Ledger, e: Any, *, now: datetime) -> Changes:
    recorded_at = e.recorded_at or now
    if recorded_at > now + CLOCK_SKEW:
        raise Rejected("recorded_at is in the future", field="recorded_at")
    return _PLANNERS[e.type](ledger, e, recorded_at)


def _plan_order(ledger: Ledger, e: s.OrderEvent, recorded_at: datetime) -> Changes:
    dealer_id, supplier_id = ledger.dealer(e.dealer), ledger.supplier(e.supplier)
    milestone = _MILESTONE.get(e.status)
    if milestone and getattr(e, milestone) is None:
        raise Rejected(f"status '{e.status}' needs {milestone}", field=milestone)
    oid = _ids.new("ord")
    row = dict(id=oid, external_id=e.external_id, dealer_id=dealer_id, supplier_id=supplier_id, amount=e.amount,
               status=e.status, placed_at=e.placed_at, confirmed_at=e.confirmed_at, shipped_at=e.shipped_at,
               delivered_at=e.delivered_at, cancelled_at=e.cancelled_at, returned_at=e.returned_at,
               cancelled_recorded_at=recorded_at if e.cancelled_at else None, recorded_at=recorded_at)
    view = OrderView(oid, dealer_id, supplier_id, e.amount, e.status, e.placed_at, e.delivered_at)

    def commit() -> None:
        ledger.orders[oid] = ledger.orders[e.external_id] = view

    return Changes(oid, inserts=[(m.Order, row)], commit_view=commit)


def _plan_order_status(ledger: Ledger, e: s.OrderStatusEvent, recorded_at: datetime) -> Changes:
    order = ledger.order(e.order)
    if e.at < order.placed_at:
        raise Rejected("status change is before the order was placed", field="at")
    if order.status in _TERMINAL:
        raise Rejected(f"order is already {order.status}", field="status")
    if e.status == "returned" and order.status != "delivered":
        raise Rejected("only a delivered order can be returned", field="status")
    if e.status in _ORDER_RANK and _ORDER_RANK[e.status] <= _ORDER_RANK[order.status]:
        raise Rejected(f"order is already {order.status}", field="status")

    def commit() -> None:
        order.status = e.status
        if e.status == "delivered":
            order.delivered_at = e.at

    values: dict[str, Any] = {"status": e.status, _MILESTONE[e.status]: e.at}
    if e.status == "cancelled":
        values["cancelled_recorded_at"] = recorded_at  # a back-dated cancellation is known only from now
    return Changes(order.id, updates=[(m.Order, order.id, values)], commit_view=commit)


def _plan_payment_due(ledger: Ledger, e: s.PaymentDueEvent, recorded_at: datetime) -> Changes:
    order = ledger.order(e.order)
    if e.due_on < business_date(order.placed_at):
        raise Rejected("due date is before the order was placed", field="due_on")
    paid_amount = e.paid_amount if e.paid_amount is not None else (e.amount if e.paid_on else Decimal("0"))
    if paid_amount > e.amount:
        raise Rejected("paid_amount exceeds the amount due", field="paid_amount")
    if e.paid_on is None and paid_amount > 0:
        raise Rejected("paid_amount given without paid_on", field="paid_on")
    settled = paid_amount == e.amount
    bid = _ids.new("due")
    row = dict(id=bid, external_id=e.external_id, order_id=order.id, dealer_id=order.dealer_id, amount=e.amount,
               due_on=e.due_on, paid_amount=paid_amount, paid_on=e.paid_on if settled else None,
               paid_recorded_at=(e.paid_recorded_at or recorded_at) if settled else None, recorded_at=recorded_at)
    view = BillView(bid, order.dealer_id, e.amount, paid_amount)

    def commit() -> None:
        ledger.bills[bid] = ledger.bills[e.external_id] = view

    return Changes(bid, inserts=[(m.PaymentDue, row)], commit_view=commit)


def _plan_payment(ledger: Ledger, e: s.PaymentEvent, recorded_at: datetime) -> Changes:
    bill = ledger.bill(e.payment_due)
    outstanding = bill.amount - bill.paid_amount
    if e.amount > outstanding:
        raise Rejected(f"payment exceeds the outstanding {outstanding}", field="amount")
    pid = _ids.new("pay")
    paid = bill.paid_amount + e.amount
    values: dict[str, Any] = {"paid_amount": paid}
    if paid == bill.amount:
        values.update(paid_on=e.paid_on, paid_recorded_at=recorded_at)
    row = dict(id=pid, external_id=e.external_id, payment_due_id=bill.id, dealer_id=bill.dealer_id,
               amount=e.amount, paid_on=e.paid_on, recorded_at=recorded_at)

    def commit() -> None:
        bill.paid_amount = paid

    return Changes(pid, inserts=[(m.Payment, row)], updates=[(m.PaymentDue, bill.id, values)], commit_view=commit)


def _plan_invoice(ledger: Ledger, e: s.InvoiceEvent, recorded_at: datetime) -> Changes:
    order = ledger.order(e.order)
    if e.issued_on < business_date(order.placed_at):
        raise Rejected("invoice issued before the order was placed", field="issued_on")
    key = (e.invoice_code, e.invoice_number)
    if key in ledger.invoice_keys:
        raise Rejected("an invoice with this code and number is already recorded", field="invoice_number")
    iid = _ids.new("inv")
    row = dict(id=iid, external_id=e.external_id, order_id=order.id, invoice_code=e.invoice_code,
               invoice_number=e.invoice_number, seller_credit_code=e.seller_credit_code,
               buyer_credit_code=e.buyer_credit_code, amount=e.amount, tax=e.tax, issued_on=e.issued_on,
               recorded_at=recorded_at)
    return Changes(iid, inserts=[(m.Invoice, row)], commit_view=lambda: ledger.invoice_keys.add(key))


def _plan_delivery(ledger: Ledger, e: s.DeliveryEvent, recorded_at: datetime) -> Changes:
    order = ledger.order(e.order)
    if e.delivered_at < order.placed_at:
        raise Rejected("delivery is before the order was placed", field="delivered_at")
    if order.status == "cancelled":
        raise Rejected("the order was cancelled", field="order")
    did = _ids.new("dlv")
    row = dict(id=did, external_id=e.external_id, order_id=order.id, delivered_at=e.delivered_at,
               carrier=e.carrier, tracking_number=e.tracking_number, recorded_at=recorded_at)
    changes = Changes(did, inserts=[(m.Delivery, row)])
    if order.delivered_at is None:
        status = "delivered" if order.status in ("placed", "confirmed", "shipped") else order.status
        changes.updates.append((m.Order, order.id, {"delivered_at": e.delivered_at, "status": status}))

        def commit() -> None:
            order.delivered_at, order.status = e.delivered_at, status

        changes.commit_view = commit
    return changes


def _plan_return(ledger: Ledger, e: s.ReturnEvent, recorded_at: datetime) -> Changes:
    order = ledger.order(e.order)
    if e.returned_at < order.placed_at:
        raise Rejected("return is before the order was placed", field="returned_at")
    already = order.returned or Decimal("0")
    if already + e.amount > order.amount:
        raise Rejected(f"return exceeds the order amount ({already} of {order.amount} already returned)",
                       field="amount")
    rid = _ids.new("ret")
    row = dict(id=rid, external_id=e.external_id, order_id=order.id, dealer_id=order.dealer_id, amount=e.amount,
               returned_at=e.returned_at, reason=e.reason, recorded_at=recorded_at)

    def commit() -> None:
        order.returned = already + e.amount

    return Changes(rid, inserts=[(m.Return, row)], commit_view=commit)


def _plan_related_party(ledger: Ledger, e: s.RelatedPartyEvent, recorded_at: datetime) -> Changes:
    dealer_id, supplier_id = ledger.dealer(e.dealer), ledger.supplier(e.supplier)
    key = (dealer_id, supplier_id, e.kind)
    if key in ledger.related_links:  # one link per (dealer, supplier, kind): the tie is already known
        raise Rejected(f"dealer and supplier are already linked by '{e.kind}' (related_party "
                       f"'{ledger.related_links[key]}')", field="kind", code="related_party_already_linked")
    lid = _ids.new("rel")
    row = dict(id=lid, external_id=e.external_id, dealer_id=dealer_id, supplier_id=supplier_id, kind=e.kind,
               evidence=e.evidence, recorded_at=recorded_at)

    def commit() -> None:
        ledger.related_links[key] = e.external_id

    return Changes(lid, inserts=[(m.RelatedPartyLink, row)], commit_view=commit)


_PLANNERS = {
    "order": _plan_order, "order_status": _plan_order_status, "payment_due": _plan_payment_due,
    "payment": _plan_payment, "invoice": _plan_invoice, "delivery": _plan_delivery, "return": _plan_return,
    "related_party": _plan_related_party,
}


# --- executors ----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    index: int
    raw: Any
    event: Any = None
    digest: str = ""


def _parse(items: Iterable[Any], report: IngestReport) -> list[_Parsed]:
    parsed = []
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            report.reject(index, None, None, [{"field": "event", "reason": "an event must be a JSON object"}])
            continue
        kind = raw.get("type")
        ext = raw.get("external_id")
        try:
            event = s.EVENT_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            report.reject(index, kind, ext, _validation_errors(exc))
            continue
        parsed.append(_Parsed(index, raw, event, content_hash(raw)))
    return parsed


def _validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) > 1 and loc[0] in _PLANNERS:  # pydantic puts the discriminator tag first
            loc = loc[1:]
        reason = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        out.append({"field": ".".join(loc) or "type", "reason": reason})
    return out


def _is_duplicate(ledger: Ledger, p: _Parsed, report: IngestReport) -> bool:
    seen = ledger.events.get((p.event.type, p.event.external_id))
    if seen is None:
        return False
    if seen[0] == p.digest:
        report.accepted.append({"index": p.index, "type": p.event.type, "external_id": p.event.external_id,
                                "status": "duplicate", "id": seen[1]})
    else:
        report.reject(p.index, p.event.type, p.event.external_id,
                      [{"field": "external_id", "reason": "this external_id was already sent with different content"}])
    return True


def _event_row(p: _Parsed, subject_id: str, now: datetime) -> dict[str, Any]:
    return dict(kind=p.event.type, external_id=p.event.external_id, content_hash=p.digest, subject_id=subject_id,
                recorded_at=p.event.recorded_at or now)


def _accept(report: IngestReport, ledger: Ledger, p: _Parsed, changes: Changes) -> None:
    changes.commit_view()
    ledger.events[(p.event.type, p.event.external_id)] = (p.digest, changes.subject_id)
    report.accepted.append({"index": p.index, "type": p.event.type, "external_id": p.event.external_id,
                            "status": "created", "id": changes.subject_id})
    report.stored.append([p.event.type, p.event.external_id, p.digest])


def ingest_events(session: Session, items: Iterable[Any], *, actor: str, ledger: Ledger | None = None) -> IngestReport:
    """Item by item, each in its own savepoint (the API path)."""
    report = IngestReport()
    ledger = ledger or Ledger(session)
    now = utcnow()
    parsed = _parse(items, report)
    ledger.prefetch([p.event for p in parsed])
    for p in parsed:
        if _is_duplicate(ledger, p, report):
            continue
        try:
            changes = plan_event(ledger, p.event, now=now)
            with session.begin_nested():
                _apply(session, changes.inserts + [(m.TradeEvent, _event_row(p, changes.subject_id, now))],
                       changes.updates)
        except Rejected as exc:
            report.reject(p.index, p.event.type, p.event.external_id, [{"field": exc.field, "reason": exc.detail}])
            continue
        except IntegrityError as exc:
            _answer_refused(ledger, p, report, exc, now)
            continue
        _accept(report, ledger, p, changes)
    _audit(session, report, actor)
    return report


def _answer_refused(ledger: Ledger, p: _Parsed, report: IngestReport, exc: IntegrityError, now: datetime) -> None:
    """An item a unique index refused: a concurrent request stored the same event, or the same related-party
    link, after this batch's lookup (PostgreSQL makes the second insert wait for the first to commit).
    Look again and answer as a later request would: ``duplicate``, or rejected naming the field."""
    ev = m.TradeEvent
    key = (p.event.type, p.event.external_id)
    stored = ledger.session.execute(select(ev.content_hash, ev.subject_id)
                                    .where(ev.kind == key[0], ev.external_id == key[1])).first()
    if stored is not None:
        ledger.events[key] = (stored.content_hash, stored.subject_id)
        _is_duplicate(ledger, p, report)
        return
    if p.event.type == "related_party":
        ledger.refetch_related_links([p.event])
        try:
            plan_event(ledger, p.event, now=now)
        except Rejected as rejected:
            report.reject(p.index, *key, [{"field": rejected.field, "reason": rejected.detail}])
            return
    report.reject(p.index, *key, [{"field": "external_id", "reason": f"refused by the database: {exc.orig}"}])


def ingest_chunk(session: Session, items: list[Any], *, actor: str, ledger: Ledger) -> IngestReport:
    """A whole chunk in a few multi-row statements (bulk loads); same validation, same answers."""
    report = IngestReport()
    now = utcnow()
    parsed = _parse(items, report)
    ledger.prefetch([p.event for p in parsed])
    inserts: list[tuple[type, dict[str, Any]]] = []
    updates: list[tuple[type, str, dict[str, Any]]] = []
    planned: list[tuple[_Parsed, Changes]] = []
    for p in parsed:
        if _is_duplicate(ledger, p, report):
            continue
        try:
            changes = plan_event(ledger, p.event, now=now)
        except Rejected as exc:
            report.reject(p.index, p.event.type, p.event.external_id, [{"field": exc.field, "reason": exc.detail}])
            continue
        inserts += changes.inserts + [(m.TradeEvent, _event_row(p, changes.subject_id, now))]
        updates += changes.updates
        planned.append((p, changes))
        _accept(report, ledger, p, changes)  # later items of the chunk see this one
    try:
        with session.begin_nested():
            _apply(session, inserts, updates)
    except IntegrityError:
        # something slipped past validation (e.g. a concurrent writer): redo the chunk item by item
        return ingest_events(session, items, actor=actor)
    _audit(session, report, actor)
    return report


def _apply(session: Session, inserts: list[tuple[type, dict[str, Any]]],
           updates: list[tuple[type, str, dict[str, Any]]]) -> None:
    by_model: dict[type, list[dict[str, Any]]] = {}
    for model, row in inserts:
        by_model.setdefault(model, []).append(row)
    for model in _INSERT_ORDER:
        if model in by_model:  # Core executemany: the ORM's bulk bookkeeping adds nothing to plain rows
            session.execute(insert(model.__table__), by_model[model])
    for model, pk, values in updates:
        session.execute(update(model).where(model.id == pk).values(**values))


_INSERT_ORDER = [m.Order, m.PaymentDue, m.Payment, m.Invoice, m.Delivery, m.Return, m.RelatedPartyLink,
                 m.TradeEvent]


def _audit(session: Session, report: IngestReport, actor: str) -> None:
    if report.stored:
        audit.record(session, actor=actor, action="trade.events_ingested", subject_type="trade_batch",
                     subject_id=new_id("bat"), payload={"events": report.stored, "rejected": len(report.rejected)})
