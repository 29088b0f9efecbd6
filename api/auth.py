"""Authentication by API key and declared permissions.

Each capability is a typed dependency (``PlatformClient``, ``BankClient``...): a route states who
may call it in its signature. 401 without or with a bad key, 403 for the wrong role. Tenant
visibility for bank clients is applied in one place per table with ``bank_scoped``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.clients import find_by_key, hash_key
from risk_engine.errors import DomainError, PermissionDenied


class Unauthenticated(DomainError):
    status = 401
    title = "Unauthenticated"
    default_code = "unauthenticated"


@dataclass(frozen=True)
class Principal:
    client_id: str
    name: str
    role: str
    bank_id: str | None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.client_id}"


_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer rk_...`")


class PrincipalCache:
    """Who holds which key, remembered for ``ttl_seconds`` (``RISK_API_KEY_CACHE_SECONDS``; 0: ask the
    database every time). Only keys that were found are remembered, by their SHA-256: a revoked key stops
    working within the TTL on every worker."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        hit = self._entries.get(key_hash)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            self._entries.pop(key_hash, None)
            return None
        return hit[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl, principal)


def _lookup(database: Any, key: str) -> Principal | None:
    with database.reader() as session:  # its own short read: never the request's write transaction
        client = find_by_key(session, key)
        return None if client is None else Principal(client.id, client.name, client.role, client.bank_id)


class Authenticator:
    """A dependency that admits clients holding one of ``roles``.

    Async: a key seen within the cache's TTL costs no database read and no worker-thread hop."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthenticated("missing API key: send `Authorization: Bearer <key>`", field="Authorization")
        state = request.app.state
        cache: PrincipalCache = state.principals
        key_hash = hash_key(credentials.credentials)
        principal = cache.get(key_hash)
        if principal is None:
            principal = await run_in_threadpool(_lookup, state.db, credentials.credentials)
            if principal is None:
                raise Unauthenticated("unknown or revoked API key", field="Authorization")
            cache.put(key_hash, principal)
        request.state.principal = principal
        if principal.role not in self.roles:
            raise PermissionDenied(
                f"role '{principal.role}' may not call this endpoint (needs {' or '.join(sorted(self.roles))})"
            )
        return principal


PlatformClient = Annotated[Principal, Depends(Authenticator("platform"))]
BankClient = Annotated[Principal, Depends(Authenticator("bank"))]
OfficerClient = Annotated[Principal, Depends(Authenticator("risk_officer", "admin"))]
AdminClient = Annotated[Principal, Depends(Authenticator("admin"))]
AnyClient = Annotated[Principal, Depends(Authenticator("platform", "bank", "risk_officer", "admin"))]
PlatformOrBankClient = Annotated[Principal, Depends(Authenticator("platform", "bank"))]
BankOrOfficerClient = Annotated[Principal, Depends(Authenticator("bank", "risk_officer", "admin"))]


def bank_scoped(statement: Any, principal: Principal, bank_column: Any) -> Any:
    """Restrict a query to the principal's bank when the principal is a bank client."""
    if principal.role == "bank":
        return statement.where(bank_column == principal.bank_id)
    return statement
