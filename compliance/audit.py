"""The tamper-evident audit trail: an append-only hash chain.

Every state change calls ``record`` inside the same transaction as the change itself, so a change
can never commit without its entry (and vice versa). Entries are numbered 1, 2, 3... without gaps;
each names the hash of the one before. ``verify`` walks the chain and names the first bad entry.

Concurrency: appends are serialised. SQLite transactions already hold the write lock (BEGIN
IMMEDIATE); on PostgreSQL the first append of a transaction takes a transaction-scoped advisory lock
(one per schema) and reads the chain head, later appends of the transaction carry the head along,
and the unique ``prev_hash`` constraint refuses a fork whatever happens.
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
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from compliance.models import AuditEntry
from risk_engine.db import transaction_scoped, utcnow

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x41554449  # "AUDI"


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON. Decimals become strings (exact money), datetimes RFC 3339 UTC.

    The same text as ``rfc8785.dumps`` (a property test holds them equal), written by the standard
    library's C encoder whenever that gives the same bytes, which is nearly always: RFC 8785 escapes
    strings exactly as ``json.dumps(ensure_ascii=False)`` does, and ECMAScript prints a double like
    Python's ``repr`` except for whole numbers (``1`` not ``1.0``), below 1e-4 and from 1e16 on. Whole
    doubles become ints; any other double outside the shared range, a key beyond the Basic Multilingual
    Plane (RFC 8785 sorts keys by UTF-16 code units, Python by code points) or an integer beyond 2^53
    goes to ``rfc8785`` itself.
    """
    try:
        return _encode_canonical(_plain(value, strict=True))
    except _NeedsRfc8785:
        return rfc8785.dumps(_plain(value, strict=False)).decode("utf-8")


_encode_canonical = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode
_MAX_EXACT_INT = 2**53 - 1


class _NeedsRfc8785(Exception):
    """The value holds something only ``rfc8785`` prints canonically."""


def _plain(value: Any, *, strict: bool) -> Any:
    """Plain JSON data. ``strict``: data the C encoder prints canonically, else ``_NeedsRfc8785``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = str(k)
            if strict and not key.isascii() and max(map(ord, key)) > 0xFFFF:
                raise _NeedsRfc8785
            out[key] = _plain(v, strict=strict)
        return out
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if strict and not -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
            raise _NeedsRfc8785
        return int(value)
    if isinstance(value, float):
        if value != value:  # NaN has no JSON form
            return None
        if not strict:
            return value
        magnitude = abs(value)
        if magnitude < 1e16 and value.is_integer():
            return int(value)  # ECMAScript prints 2.0 as 2, and -0.0 as 0
        if 1e-4 <= magnitude < 1e16:
            return value  # repr and ECMAScript agree here: shortest round-trip digits, no exponent
        raise _NeedsRfc8785
    if isinstance(value, list | tuple):
        return [_plain(v, strict=strict) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _rfc3339(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
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


ENTRY_COLUMNS = ("seq", "recorded_at", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash",
                 "entry_hash")


def entry_columns(entry: Any) -> dict[str, Any]:
    """Every column of an entry, as a verifier needs them to recompute ``entry_hash`` (``recorded_at`` in the
    RFC 3339 form the hash covers; ``payload`` the canonical JSON text as stored)."""
    columns = {name: getattr(entry, name) for name in ENTRY_COLUMNS}
    columns["recorded_at"] = _rfc3339(entry.recorded_at)
    return columns


def lock_chain(session: Session) -> None:
    """Serialise with every other append to this schema's chain until this transaction ends (a no-op on
    SQLite, whose transactions already hold the write lock). Taken once per transaction."""
    _chain_state(session)


AUDIT = AuditEntry.__table__
_HEAD = select(AUDIT.c.seq, AUDIT.c.entry_hash).order_by(AUDIT.c.seq.desc()).limit(1)
_APPEND = insert(AUDIT)
# one lock per schema: test runs and tenants in other schemas of the same database do not queue here
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))")


@dataclass
class _Chain:
    """What this transaction knows of the chain: it holds the lock, and (once read) the head."""

    head: tuple[int, str] | None = None
    head_in: Any = None  # the (sub)transaction in which ``head`` was read or written


def _chain_state(session: Session) -> _Chain:
    def locked() -> _Chain:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_PG_LOCK, {"k": _ADVISORY_LOCK_KEY})
        return _Chain()

    return transaction_scoped(session, "audit.chain", locked)


def _head(session: Session, state: _Chain) -> tuple[int, str]:
    """The last (seq, entry_hash): read once under the lock, then carried along by each append. A
    savepoint may roll back what it appended, so the head is read again in any other (sub)transaction."""
    current = session.get_nested_transaction() or session.get_transaction()
    if state.head is None or state.head_in is not current:
        row = session.execute(_HEAD).first()
        state.head = (row[0], row[1]) if row else (0, GENESIS_HASH)
        state.head_in = current
    return state.head


def next_seq(session: Session) -> int:
    """The number the next entry appended in this transaction will get (locks the chain)."""
    return _head(session, _chain_state(session))[0] + 1


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
    state = _chain_state(session)
    last, prev = _head(session, state)
    seq = last + 1
    payload_json = canonical_json(payload or {})
    recorded_at = utcnow()
    row = {
        "seq": seq,
        "recorded_at": recorded_at,
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "payload": payload_json,
        "prev_hash": prev,
    }
    row["entry_hash"] = entry_hash(**row)
    session.flush()  # the caller's pending changes first, as before
    session.execute(_APPEND, row)
    state.head = (seq, row["entry_hash"])
    return AuditEntry(**row)


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
