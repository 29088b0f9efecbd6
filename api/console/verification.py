"""The audit page's verification of the whole trail, run in the background.

``compliance.checkpoints.verify_trail`` recomputes every entry's hash, the Merkle tree and every signed
checkpoint: on the demo data that is seconds, far beyond a page's budget, so the page never waits for
it. One verification runs at a time per process, in a thread; the page shows the latest finished result
with its time and starts a new run when that result is more than a minute old (or when an officer asks).

The run reads one consistent snapshot. On PostgreSQL that is an ordinary transaction. On SQLite the
engine's own sessions begin with ``BEGIN IMMEDIATE`` and would hold the write lock for the whole run, so
the verifier reads through its own read-only connection with a deferred ``BEGIN``: in WAL mode that
snapshot blocks no writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from compliance import checkpoints
from risk_engine.db import Database, utcnow

log = logging.getLogger("risk_engine.console")
MAX_AGE = timedelta(minutes=1)


@dataclass(frozen=True)
class Verification:
    started_at: datetime
    finished_at: datetime
    ms: float
    report: checkpoints.TrailReport | None
    error: str | None = None  # the run itself failed (not the trail)

    @property
    def intact(self) -> bool:
        return self.report is not None and self.report.intact


class TrailVerifier:
    def __init__(
        self,
        database: Database,
        jwks: Callable[[], Mapping[str, Any]],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._jwks = jwks
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: Verification | None = None
        self._thread: threading.Thread | None = None
        self._reader: Engine | None = None

    @property
    def latest(self) -> Verification | None:
        return self._latest

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def refresh(self, *, force: bool = False) -> bool:
        """Start a run unless one is running or (without ``force``) the latest is under a minute old."""
        with self._lock:
            if self.running:
                return False
            latest = self._latest
            if not force and latest is not None and self._clock() - latest.finished_at < MAX_AGE:
                return False
            self._thread = threading.Thread(target=self._run, name="console-trail-verifier", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float = 60.0) -> Verification | None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._latest

    def close(self) -> None:
        if self._reader is not None:
            self._reader.dispose()

    def _run(self) -> None:
        started_at, started = self._clock(), time.perf_counter()
        report, error = None, None
        try:
            with self._snapshot() as session:
                report = checkpoints.verify_trail(session, self._jwks())
        except Exception as exc:  # the page must say the run failed, not that the trail is intact
            log.exception("audit trail verification failed to run")
            error = f"{type(exc).__name__}: {exc}"
        self._latest = Verification(
            started_at, self._clock(), (time.perf_counter() - started) * 1000, report, error
        )

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        if self._database.dialect != "sqlite":
            session = self._database.session()
        else:
            session = Session(bind=self._sqlite_reader())
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def _sqlite_reader(self) -> Engine:
        if self._reader is None:
            reader = create_engine(self._database.url, connect_args={"check_same_thread": False})

            @event.listens_for(reader, "connect")
            def _on_connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # we say BEGIN ourselves
                dbapi_connection.execute("PRAGMA query_only=ON")

            @event.listens_for(reader, "begin")
            def _on_begin(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN")  # deferred: a read snapshot, no write lock

            self._reader = reader
        return self._reader
