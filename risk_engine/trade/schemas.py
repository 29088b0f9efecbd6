"""Typed trade events sent by the platform (``POST /v1/events``, ``risk-engine data load``).

References (``dealer``, ``supplier``, ``order``, ``payment_due``) name the party or object by the
platform's own external id or by the engine's id. ``recorded_at`` is when the platform recorded
the event (defaults to now; back-filled history carries its own), used for point-in-time features.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, Field, TypeAdapter, model_validator

from risk_engine.schemas import Money, PositiveMoney, RequestModel, refuse

MAX_EVENTS_PER_CALL = 1000

ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
Reference = Annotated[str, Field(min_length=1, max_length=64)]


class EventBase(RequestModel):
    external_id: ExternalId
    recorded_at: AwareDatetime | None = None


class OrderEvent(EventBase):
    type: Literal["order"]
    dealer: Reference
    supplier: Reference
    amount: PositiveMoney
    placed_at: AwareDatetime
    status: Literal["placed", "confirmed", "shipped", "delivered", "cancelled", "returned"] = "placed"
    confirmed_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    returned_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _milestones_follow_placement(self) -> OrderEvent:
        for name in ("confirmed_at", "shipped_at", "delivered_at", "cancelled_at", "returned_at"):
            value = getattr(self, name)
            if value is not None and value < self.placed_at:
                refuse(self, name, f"{name} is before placed_at")
        return self


class OrderStatusEvent(EventBase):
    type: Literal["order_status"]
    order: Reference
    status: Literal["confirmed", "shipped", "delivered", "cancelled", "returned"]
    at: AwareDatetime


class PaymentDueEvent(EventBase):
    type: Literal["payment_due"]
    order: Reference
    amount: PositiveMoney
    due_on: date
    paid_on: date | None = Field(default=None, description="only for back-filled bills already settled")
    paid_amount: Money | None = None
    paid_recorded_at: AwareDatetime | None = Field(
        default=None, description="back-fill only: when the platform recorded the settlement")


class PaymentEvent(EventBase):
    type: Literal["payment"]
    payment_due: Reference
    amount: PositiveMoney
    paid_on: date


class InvoiceEvent(EventBase):
    type: Literal["invoice"]
    order: Reference
    invoice_code: Annotated[str, Field(min_length=1, max_length=20)]
    invoice_number: Annotated[str, Field(min_length=1, max_length=20)]
    seller_credit_code: Annotated[str, Field(min_length=18, max_length=18)]
    buyer_credit_code: Annotated[str, Field(min_length=18, max_length=18)]
    amount: PositiveMoney
    tax: Money
    issued_on: date


class DeliveryEvent(EventBase):
    type: Literal["delivery"]
    order: Reference
    delivered_at: AwareDatetime
    carrier: Annotated[str | None, Field(max_length=100)] = None
    tracking_number: Annotated[str | None, Field(max_length=64)] = None


class ReturnEvent(EventBase):
    type: Literal["return"]
    order: Reference
    amount: PositiveMoney
    returned_at: AwareDatetime
    reason: Annotated[str | None, Field(max_length=500)] = None


class RelatedPartyEvent(EventBase):
    type: Literal["related_party"]
    dealer: Reference
    supplier: Reference
    kind: Literal["shared_owner", "legal_representative", "address", "account"]
    evidence: Annotated[str | None, Field(max_length=500)] = None


TradeEventIn = Annotated[
    OrderEvent | OrderStatusEvent | PaymentDueEvent | PaymentEvent | InvoiceEvent | DeliveryEvent
    | ReturnEvent | RelatedPartyEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[TradeEventIn] = TypeAdapter(TradeEventIn)


class EventBatchIn(RequestModel):
    unchecked_fields: ClassVar[frozenset[str]] = frozenset({"events"})  # each item is checked on its own
    events: Annotated[
        list[Any], Field(min_length=1, max_length=MAX_EVENTS_PER_CALL,
                          description=f"up to {MAX_EVENTS_PER_CALL} typed events; each is validated "
                                      "on its own, so a bad item never sinks the good ones")
    ]
