"""Request-scoped dependencies: the database session, the key provider, the KYB blacklist."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from compliance.keys import KeyProvider
from compliance.kyb import Blacklist


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request. Whoever changes state commits explicitly (see api.idempotency);
    anything left uncommitted is rolled back when the request ends.

    An async dependency: making the session touches no database, so it costs no worker-thread hop; only
    a session still inside a transaction at the end (a read, or a failed write) is rolled back and
    closed in a worker thread."""
    session = request.app.state.db.session()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(_rollback_and_close, session)
        else:
            session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


def get_keys(request: Request) -> KeyProvider:
    return request.app.state.keys


def get_blacklist(request: Request) -> Blacklist | None:
    """The current KYB blacklist (RISK_BLACKLIST_FILE), or None when none is configured."""
    return request.app.state.blacklist.current()


Keys = Annotated[KeyProvider, Depends(get_keys)]
CurrentBlacklist = Annotated[Blacklist | None, Depends(get_blacklist)]
