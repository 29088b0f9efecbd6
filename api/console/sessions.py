"""Console sessions: log in with an API key, carry a random session token, log out.

* **Login** checks the key exactly as the API does (``api.clients.find_by_key``: hashed, not revoked)
  and admits only ``risk_officer`` and ``admin`` clients. It opens a ``console_session`` row holding the
  SHA-256 of a fresh 256-bit token; the browser gets the token in an HttpOnly cookie and never the key.
* **Each request** finds the session by the token's hash: not revoked, not expired, its client not
  revoked and still in a console role. Nothing is written on a read, so browsing takes no write lock.
* **Logout** revokes the row: the cookie is useless afterwards even if it was copied.
* **CSRF**: every form carries ``csrf_token(token)``, an HMAC of the session token, checked on every
  POST. Before login the same is done with a random pre-login token (a double-submit cookie), so the
  login form is protected too.

Opening and closing a session are audited, like every other state change.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.clients import find_by_key, hash_key
from api.console.models import ConsoleSession
from api.models import ApiClient
from compliance import audit
from risk_engine.errors import DomainError
from risk_engine.ids import new_id

CONSOLE_ROLES = ("risk_officer", "admin")
SESSION_LIFETIME = timedelta(hours=8)  # one working day; log in again tomorrow


class LoginRefused(DomainError):
    status = 401
    title = "Login refused"
    default_code = "login_refused"


@dataclass(frozen=True)
class OpenedSession:
    id: str
    token: str
    expires_at: datetime
    principal: Principal


def open_session(session: Session, api_key: str, *, now: datetime) -> OpenedSession:
    client = find_by_key(session, (api_key or "").strip())
    if client is None:
        raise LoginRefused("unknown or revoked API key", field="api_key")
    if client.role not in CONSOLE_ROLES:
        raise LoginRefused(
            f"role '{client.role}' may not use the console", field="api_key", code="role_not_allowed"
        )
    principal = Principal(client.id, client.name, client.role, client.bank_id)
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        id=new_id("cs"),
        token_hash=hash_key(token),
        client_id=client.id,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="console.session_opened",
        subject_type="console_session",
        subject_id=row.id,
        payload={"client_id": client.id, "expires_at": row.expires_at},
    )
    return OpenedSession(row.id, token, row.expires_at, principal)


def principal_for(session: Session, token: str | None, *, now: datetime) -> Principal | None:
    """The officer behind a session token, or None when the session is unknown, ended or its key revoked."""
    if not token:
        return None
    row = session.execute(
        select(ApiClient.id, ApiClient.name, ApiClient.role, ApiClient.bank_id)
        .join(ConsoleSession, ConsoleSession.client_id == ApiClient.id)
        .where(
            ConsoleSession.token_hash == hash_key(token),
            ConsoleSession.revoked_at.is_(None),
            ConsoleSession.expires_at > now,
            ApiClient.revoked_at.is_(None),
            ApiClient.role.in_(CONSOLE_ROLES),
        )
    ).first()
    return None if row is None else Principal(row.id, row.name, row.role, row.bank_id)


def close_session(session: Session, token: str | None, *, now: datetime) -> bool:
    """Revoke the session (logout). False when there was no live session to end."""
    if not token:
        return False
    row = session.scalars(
        select(ConsoleSession).where(
            ConsoleSession.token_hash == hash_key(token), ConsoleSession.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return False
    row.revoked_at = now
    session.flush()
    client = session.get(ApiClient, row.client_id)
    actor = f"{client.role}:{client.id}" if client is not None else f"client:{row.client_id}"
    audit.record(
        session,
        actor=actor,
        action="console.session_closed",
        subject_type="console_session",
        subject_id=row.id,
        payload={"client_id": row.client_id},
    )
    return True


def csrf_token(token: str) -> str:
    """The per-session CSRF token: an HMAC of the session token (nobody without the cookie can make it)."""
    return hmac.new(token.encode("utf-8"), b"risk-console-csrf", hashlib.sha256).hexdigest()


def csrf_valid(token: str | None, submitted: str | None) -> bool:
    if not token or not submitted:
        return False
    return hmac.compare_digest(csrf_token(token), submitted)
