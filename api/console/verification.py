"""The audit page's verification of the whole trail, run in the background.

``compliance.checkpoints.verify_trail`` recomputes every entry's hash, the Merkle tree and every signed
checkpoint: on the demo data that is seconds, far beyond a page's budget, so the page never waits for
it. One verification runs at a time per process, in a thread; the page shows the latest finished result
with its time and starts a new run when that result is more than a minute old (or when an officer asks).

The run reads one consistent snapshot (``Database.snapshot``): a ``REPEATABLE READ`` transaction on
PostgreSQL, so a checkpoint signed during the scan is not read beside the entries scanned before it; on
SQLite a deferred read transaction, which in WAL mode blocks no writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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

    def _run(self) -> None:
        started_at, started = self._clock(), time.perf_counter()
        report, error = None, None
        try:
            with self._database.snapshot() as session:
                report = checkpoints.verify_trail(session, self._jwks())
        except Exception as exc:  # the page must say the run failed, not that the trail is intact
            log.exception("audit trail verification failed to run")
            error = f"{type(exc).__name__}: {exc}"
        self._latest = Verification(
            started_at, self._clock(), (time.perf_counter() - started) * 1000, report, error
        )

