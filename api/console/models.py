"""The console's table: browser sessions opened by logging in with an API key.

Only the SHA-256 of the session token is stored (the token lives in the browser's HttpOnly cookie), so
a copy of the database opens no session. Logging out sets ``revoked_at``; a session also ends at
``expires_at`` and whenever its API client is revoked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from risk_engine.db import Base, UTCDateTime, utcnow


class ConsoleSession(Base):
    __tablename__ = "console_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_client.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
