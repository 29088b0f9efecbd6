"""Request-scoped dependencies: the database session, the key provider, the KYB blacklist."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from compliance.keys import KeyProvider
from compliance.kyb import Blacklist


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Whoever changes state commits explicitly (see api.idempotency);
    anything left uncommitted is rolled back when the request ends."""
    session = request.app.state.db.session()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


def get_keys(request: Request) -> KeyProvider:
    return request.app.state.keys


def get_blacklist(request: Request) -> Blacklist | None:
    """The current KYB blacklist (RISK_BLACKLIST_FILE), or None when none is configured."""
    return request.app.state.blacklist.current()


Keys = Annotated[KeyProvider, Depends(get_keys)]
CurrentBlacklist = Annotated[Blacklist | None, Depends(get_blacklist)]
