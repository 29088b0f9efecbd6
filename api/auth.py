"""Authentication by API key and declared permissions.

Each capability is a typed dependency (``PlatformClient``, ``BankClient``...): a route states who
may call it in its signature. 401 without or with a bad key, 403 for the wrong role. Tenant
visibility for bank clients is applied in one place per table with ``bank_scoped``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.clients import find_by_key
from api.deps import DbSession
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


class Authenticator:
    """A dependency that admits clients holding one of ``roles``."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    def __call__(
        self,
        request: Request,
        session: DbSession,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthenticated("missing API key: send `Authorization: Bearer <key>`", field="Authorization")
        client = find_by_key(session, credentials.credentials)
        if client is None:
            raise Unauthenticated("unknown or revoked API key", field="Authorization")
        principal = Principal(client.id, client.name, client.role, client.bank_id)
        request.state.principal = principal
        if client.role not in self.roles:
            raise PermissionDenied(
                f"role '{client.role}' may not call this endpoint (needs {' or '.join(sorted(self.roles))})"
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
