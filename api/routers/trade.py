"""HTTP for trade events from the ordering platform."""
from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import PlatformClient
from api.deps import DbSession
from api.idempotency import Idempotency
from risk_engine.trade import service
from risk_engine.trade.schemas import MAX_EVENTS_PER_CALL, EventBatchIn

router = APIRouter(prefix="/v1", tags=["trade"])


@router.post(
    "/events",
    summary="Ingest a batch of trade events",
    description=(
        f"Up to {MAX_EVENTS_PER_CALL} typed events (`order`, `order_status`, `payment_due`, `payment`, "
        "`invoice`, `delivery`, `return`, `related_party`). Each item is validated and stored on its own: "
        "the answer lists every accepted item (`created`, or `duplicate` for an identical re-send) and, per "
        "rejected item, its index, the failing field and the reason. Idempotent per (type, external_id). "
        "See docs/events.md for every event's fields."
    ),
)
def ingest_events(body: EventBatchIn, principal: PlatformClient, session: DbSession, idem: Idempotency) -> Response:
    return idem.run(session, principal,
                    lambda: service.ingest_events(session, body.events, actor=principal.actor).as_dict())
