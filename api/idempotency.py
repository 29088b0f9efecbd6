"""Idempotent mutating requests (the IETF ``Idempotency-Key`` header with Stripe's semantics).

The first response to (client, key) is stored and every retry gets it back byte for byte; the
same key with a different request is 409. The response is stored in the SAME transaction as the
state change it reports — one commit for both — so "changed but not recorded" cannot happen. A
duplicate that arrives while the first is still running waits for it and gets its response: on
PostgreSQL its insert of the key blocks on the unique index until the first commits, on SQLite the
first holds the write lock. A failed request stores nothing, so its key can be used again.

Records in state ``in_progress`` come from the two-step protocol of earlier versions (a reservation
committed before the change): one whose lock has not lapsed answers 409, a lapsed one is taken over.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.models import IdempotencyRecord
from compliance.audit import canonical_json
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, InvalidInput

REPLAY_HEADER = "Idempotent-Replayed"

_RECORDS = IdempotencyRecord.__table__
_FIND = select(_RECORDS).where(_RECORDS.c.client_id == bindparam("client_id"), _RECORDS.c.key == bindparam("key"))
_FORGET = delete(_RECORDS).where(_RECORDS.c.id == bindparam("id"))
_STORE = insert(_RECORDS)


def encode_json(value: Any) -> bytes:
    """The response body: bytes are JSON text already; plain JSON data goes straight to the C encoder;
    anything else (pydantic models, dates...) through FastAPI's ``jsonable_encoder``, as a route's return
    value would."""
    if isinstance(value, bytes):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=jsonable_encoder).encode("utf-8")


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash of the request; JSON bodies are canonicalised so key order and spacing do not matter."""
    try:
        normalised = canonical_json(json.loads(body)).encode("utf-8") if body else b""
    except ValueError:
        normalised = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + normalised).hexdigest()


@dataclass
class IdempotentRequest:
    key: str | None
    method: str
    path: str
    request_hash: str
    ttl_seconds: int

    def require_key(self) -> None:
        if not self.key:
            raise InvalidInput("this endpoint requires an Idempotency-Key header", field="Idempotency-Key",
                               code="idempotency_key_required")

    def run(
        self,
        session: Session,
        principal: Principal,
        action: Callable[[], Any],
        *,
        status_code: int = 200,
    ) -> Response:
        """Run ``action`` (which changes state through ``session`` and returns the response body: JSON data,
        or JSON text as bytes) once, and commit its change together with the stored response."""
        if not self.key:
            body = encode_json(action())
            session.commit()
            return Response(body, status_code=status_code, media_type="application/json")

        replay = self._earlier(session, principal)
        if replay is not None:
            return replay
        try:
            body = encode_json(action())
            session.flush()  # the action's pending changes, before the response that reports them
            self.store(session, principal, status_code, body)
            session.commit()
        except Exception:
            session.rollback()
            # A duplicate that committed first makes this one fail: on the key's unique index, or in
            # the action itself (PostgreSQL: it waited on a row the first one locked and then found the
            # first one's result, e.g. a line that now exists). Either way the first response answers.
            replay = self._earlier(session, principal)
            if replay is not None:
                return replay
            raise
        except BaseException:
            session.rollback()
            raise
        return Response(body, status_code=status_code, media_type="application/json")

    def store(self, session: Session, principal: Principal, status_code: int, body: bytes,
              media_type: str = "application/json") -> None:
        """Keep the response to this key in the caller's transaction (nothing without a key). ``run`` does
        it for a success; a route whose refusal commits state (an alert, an audit entry) stores its refusal
        with it, so a retry replays the refusal instead of acting again."""
        if not self.key:
            return
        now = utcnow()
        session.execute(_STORE, {
            "client_id": principal.client_id, "key": self.key, "method": self.method, "path": self.path,
            "request_hash": self.request_hash, "state": "completed", "response_status": status_code,
            "response_body": body, "response_media_type": media_type, "created_at": now,
            "locked_until": now, "expires_at": now + timedelta(seconds=self.ttl_seconds),
        })

    def replay(self, session: Session, principal: Principal) -> Response | None:
        """The stored response of an earlier request with this key, or None (``_earlier``; no key: None)."""
        return self._earlier(session, principal) if self.key else None

    def _earlier(self, session: Session, principal: Principal) -> Response | None:
        """The stored response of an earlier request with this key, or None to go ahead. Raises 409 for
        the same key with a different request, or for an earlier request still running."""
        now = utcnow()
        existing = session.execute(_FIND, {"client_id": principal.client_id, "key": self.key}).first()
        if existing is None:
            return None
        if existing.expires_at <= now:
            session.execute(_FORGET, {"id": existing.id})
            return None
        if existing.request_hash != self.request_hash:
            session.rollback()
            raise Conflict(
                "Idempotency-Key was already used with a different request",
                field="Idempotency-Key", code="idempotency_key_mismatch",
            )
        if existing.state == "completed":
            response = Response(
                existing.response_body or b"", status_code=existing.response_status or 200,
                media_type=existing.response_media_type, headers={REPLAY_HEADER: "true"},
            )
            session.rollback()
            return response
        if existing.locked_until > now:
            session.rollback()
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry later",
                field="Idempotency-Key", code="idempotency_request_in_progress",
            )
        session.execute(_FORGET, {"id": existing.id})  # a lapsed reservation: its request committed nothing
        return None


async def idempotent_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", min_length=1, max_length=255,
               description="Retries with the same key return the first response; never act twice."),
    ] = None,
) -> IdempotentRequest:
    settings = request.app.state.settings
    body = await request.body()
    return IdempotentRequest(
        key=idempotency_key,
        method=request.method,
        path=request.url.path,
        request_hash=request_fingerprint(request.method, request.url.path, body),
        ttl_seconds=settings.idempotency_ttl_seconds,
    )


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]


def purge_expired(session: Session) -> int:
    """Delete stored responses past their expiry (a scheduled job calls this)."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
    return result.rowcount or 0
