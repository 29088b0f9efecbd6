"""Request-scoped dependencies: the database session."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


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
