"""The tamper-evident audit trail: an append-only hash chain.

Every state change calls ``record`` inside the same transaction as the change itself, so a change
can never commit without its entry (and vice versa). Entries are numbered 1, 2, 3... without gaps;
each names the hash of the one before. ``verify`` walks the chain and names the first bad entry.

Concurrency: appends are serialised. SQLite transactions already hold the write lock (BEGIN
IMMEDIATE); on PostgreSQL ``record`` takes a transaction-scoped advisory lock before reading the
chain head, and the unique ``prev_hash`` constraint refuses a fork whatever happens.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import rfc8785
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from compliance.models import AuditEntry
from risk_engine.db import utcnow

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x41554449  # "AUDI"


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON. Decimals become strings (exact money), datetimes RFC 3339 UTC."""
    return rfc8785.dumps(_plain(value)).decode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _rfc3339(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return None
    return value


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_hash(
    *,
    seq: int,
    recorded_at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    payload: str,
    prev_hash: str,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "recorded_at": _rfc3339(recorded_at),
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def lock_chain(session: Session) -> None:
    """Serialise with every other append until this transaction ends (a no-op on SQLite, whose
    transactions already hold the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    payload: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (flushes; never commits)."""
    lock_chain(session)
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    payload_json = canonical_json(payload or {})
    recorded_at = utcnow()
    entry = AuditEntry(
        seq=seq,
        recorded_at=recorded_at,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        payload=payload_json,
        prev_hash=prev,
        entry_hash=entry_hash(
            seq=seq,
            recorded_at=recorded_at,
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            payload=payload_json,
            prev_hash=prev,
        ),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_entries(
    entries: Iterable[Any], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> ChainReport:
    """Check contiguous numbering, the links and every entry's own hash; stop at the first bad one.

    ``first_seq``/``prev_hash`` check a stretch of the chain that follows an entry already trusted."""
    expected_seq, prev, count = first_seq, prev_hash, 0
    for e in entries:
        if e.seq != expected_seq:
            reason = (
                f"expected entry {expected_seq} next but found {e.seq}: "
                + ("entries are missing (deleted)" if e.seq > expected_seq else "entries are out of order")
            )
            return ChainReport(count, prev, ChainProblem(expected_seq if e.seq > expected_seq else e.seq, reason))
        if e.prev_hash != prev:
            return ChainReport(count, prev, ChainProblem(e.seq, "previous-hash link broken (entry inserted, "
                                                                 "removed or reordered before it)"))
        recomputed = entry_hash(
            seq=e.seq,
            recorded_at=e.recorded_at,
            actor=e.actor,
            action=e.action,
            subject_type=e.subject_type,
            subject_id=e.subject_id,
            payload=e.payload,
            prev_hash=e.prev_hash,
        )
        if recomputed != e.entry_hash:
            return ChainReport(count, prev, ChainProblem(e.seq, "content does not match its hash (entry changed)"))
        try:
            json.loads(e.payload)
        except ValueError:
            return ChainReport(count, prev, ChainProblem(e.seq, "payload is not JSON"))
        prev, expected_seq, count = e.entry_hash, expected_seq + 1, count + 1
    return ChainReport(count, prev, None)


_CHAIN_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.recorded_at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.subject_type,
    AuditEntry.subject_id,
    AuditEntry.payload,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def iter_chain(session: Session, batch: int = 5000, *, after: int = 0) -> Iterator[Any]:
    """Entries (as plain rows, not tracked objects) in seq order, in batches to keep memory flat."""
    last = after
    while True:
        rows = session.execute(
            select(*_CHAIN_COLUMNS).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> ChainReport:
    return verify_entries(iter_chain(session))


def entries_for(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.seq)
        )
    )
