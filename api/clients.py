"""API clients: creation with a key shown once, and lookup by key hash."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ROLES, ApiClient
from compliance import audit
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank

KEY_PREFIX = "rk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    key: str


def create_client(
    session: Session, *, name: str, role: str, bank_id: str | None = None, actor: str = "system:cli"
) -> IssuedClient:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if role == "bank":
        if not bank_id:
            raise InvalidInput("a bank client must be bound to a bank (--bank BANK_ID)", field="bank")
        if session.get(Bank, bank_id) is None:
            raise NotFound(f"no bank {bank_id}", field="bank")
    elif bank_id:
        raise InvalidInput("only bank clients are bound to a bank", field="bank")
    if not name.strip():
        raise InvalidInput("name must not be empty", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        id=new_id("cli"), name=name.strip(), role=role, bank_id=bank_id,
        key_prefix=key[:10], key_hash=hash_key(key),
    )
    session.add(client)
    session.flush()
    audit.record(
        session, actor=actor, action="client.created", subject_type="api_client", subject_id=client.id,
        payload={"name": client.name, "role": role, "bank_id": bank_id, "key_prefix": client.key_prefix},
    )
    return IssuedClient(client=client, key=key)


def find_by_key(session: Session, key: str) -> ApiClient | None:
    return session.scalars(
        select(ApiClient).where(ApiClient.key_hash == hash_key(key), ApiClient.revoked_at.is_(None))
    ).first()


def list_clients(session: Session, *, include_revoked: bool = False) -> list[ApiClient]:
    """Every client, oldest first (the key's first characters, never its hash)."""
    statement = select(ApiClient).order_by(ApiClient.created_at, ApiClient.id)
    if not include_revoked:
        statement = statement.where(ApiClient.revoked_at.is_(None))
    return list(session.scalars(statement))


def client_view(client: ApiClient) -> dict[str, object]:
    return {"client_id": client.id, "name": client.name, "role": client.role, "bank_id": client.bank_id,
            "key_prefix": client.key_prefix, "created_at": client.created_at.isoformat().replace("+00:00", "Z"),
            "revoked_at": None if client.revoked_at is None
            else client.revoked_at.isoformat().replace("+00:00", "Z")}


def revoke_client(session: Session, client_id: str, *, reason: str, actor: str = "system:cli") -> ApiClient:
    """Revoke a client's key: it answers 401 from the next request on each worker that has not cached it,
    and within ``RISK_API_KEY_CACHE_SECONDS`` on those that have. Audited with the reason."""
    if not reason.strip():
        raise InvalidInput("say why the key is revoked (a leaver, a leaked key...)", field="reason")
    client = session.scalars(select(ApiClient).where(ApiClient.id == client_id).with_for_update()).first()
    if client is None:
        raise NotFound(f"no API client {client_id}", field="client_id")
    if client.revoked_at is not None:
        raise Conflict(f"client {client_id} was revoked already at {client.revoked_at.isoformat()}",
                       field="client_id", code="already_revoked")
    client.revoked_at = utcnow()
    session.flush()
    audit.record(session, actor=actor, action="client.revoked", subject_type="api_client", subject_id=client.id,
                 payload={"name": client.name, "role": client.role, "bank_id": client.bank_id,
                          "key_prefix": client.key_prefix, "reason": reason.strip()})
    return client
