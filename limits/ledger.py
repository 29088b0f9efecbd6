"""The credit-line ledger: every movement is ONE conditional ``UPDATE`` whose ``WHERE`` is the movement's
precondition in ``limits.credit_line`` (the executable spec), e.g. a reservation::

    UPDATE credit_line SET reserved = reserved + :a
     WHERE id = :id AND status = 'active' AND (expires_on IS NULL OR expires_on >= :today)
       AND limit_amount - reserved - utilised >= :a

The database decides atomically whether the movement fits, so available credit is never negative
whatever the concurrency (PostgreSQL re-evaluates the condition on the newest row version after waiting
for a concurrent writer; SQLite serialises writers with ``BEGIN IMMEDIATE``); the CHECK constraints of
``limits.models`` stand behind it. When no row is updated, the pure model replays the movement on the
line as it now stands and raises the domain error that says why (``insufficient_credit``,
``line_frozen``...).

Every movement writes a ``credit_movement`` row (before and after figures, the decision or event that
caused it, the actor) and an audit entry, in the caller's transaction: services flush, the caller
commits.

Bank quota: ``bank_allocation.allocated`` is the sum of the limits of the bank's lines that are not
closed; a limit that grows moves it with ``UPDATE … WHERE allocated + :delta <= quota``, so concurrent
limit assignments never exceed the bank's quota either.

Lock order (PostgreSQL): a limit change locks the bank's allocation row, then the line; every audit
entry comes after the row locks (the audit chain takes a transaction-wide lock). Callers that change
limits inside a larger unit of work take ``lock_bank_quota`` first, before anything is audited.

SQLite stores NUMERIC as binary floating point, so every stored figure and every comparison is rounded
to the fen in SQL (``ROUND(x, 2)``): exact for amounts below 10^13 CNY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Date, String, Update, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from compliance import audit
from limits.credit_line import CreditLine, LineStatus, money
from limits.models import BankAllocation, CreditLineRecord, CreditMovement
from risk_engine.db import Money, UTCDateTime, transaction_scoped, utcnow
from risk_engine.errors import Conflict, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank

ZERO = Decimal("0.00")
LINE = CreditLineRecord.__table__
ALLOCATION = BankAllocation.__table__
MOVEMENT = CreditMovement.__table__
_INSERT_MOVEMENT = insert(MOVEMENT).returning(MOVEMENT.c.id)


@dataclass(frozen=True)
class Cause:
    """What caused a movement: ``("decision", "dec_…")``, ``("review_case", …)``, ``("order_loan", …)``."""

    type: str
    id: str


def _fen(expr: Any) -> ColumnElement[Any]:
    return func.round(expr, 2)


# --------------------------------------------------------------------------- reading


def get_line(session: Session, line_id: str) -> CreditLineRecord:
    line = session.get(CreditLineRecord, line_id, populate_existing=True)
    if line is None:
        raise NotFound(f"no credit line {line_id}", field="line_id")
    return line


def find_line(
    session: Session, dealer_id: str, bank_id: str, *, for_update: bool = False
) -> CreditLineRecord | None:
    statement = _FIND_LINE_FOR_UPDATE if for_update else _FIND_LINE
    line = session.scalars(statement, {"dealer_id": dealer_id, "bank_id": bank_id}).first()
    if for_update and line is not None:
        _held_line_locks(session)[line.id] = line.bank_id
    return line


_FIND_LINE = (
    select(CreditLineRecord)
    .where(CreditLineRecord.dealer_id == bindparam("dealer_id"), CreditLineRecord.bank_id == bindparam("bank_id"))
    .execution_options(populate_existing=True)
)
_FIND_LINE_FOR_UPDATE = _FIND_LINE.with_for_update()


def lines_of_dealer(session: Session, dealer_id: str) -> list[CreditLineRecord]:
    return list(
        session.scalars(
            select(CreditLineRecord)
            .where(CreditLineRecord.dealer_id == dealer_id)
            .order_by(CreditLineRecord.bank_id)
        )
    )


def as_model(line: CreditLineRecord) -> CreditLine:
    return CreditLine(
        limit=line.limit,
        reserved=line.reserved,
        utilised=line.utilised,
        status=LineStatus(line.status),
        expires_on=line.expires_on,
    )


def line_json(line: CreditLineRecord) -> dict[str, Any]:
    return {
        "id": line.id,
        "dealer_id": line.dealer_id,
        "bank_id": line.bank_id,
        "limit": str(line.limit),
        "reserved": str(line.reserved),
        "utilised": str(line.utilised),
        "available": str(line.available),
        "status": line.status,
        "grade": line.grade,
        "expires_on": None if line.expires_on is None else line.expires_on.isoformat(),
        "version": line.version,
        "updated_at": line.updated_at,
    }


# --------------------------------------------------------------------------- bank quota


def lock_bank_quota(session: Session, bank_id: str) -> Decimal:
    """Lock the bank's allocation row (PostgreSQL) and return its remaining quota (may be negative when the
    quota was lowered below what is allocated). Take this before any audit entry of the transaction."""
    return lock_bank(session, bank_id).remaining_quota


@dataclass(frozen=True)
class LockedBank:
    """What limits may use of a bank once its allocation row is locked: read after the lock, so an
    amendment of its terms that held the lock has committed and is seen (``parties.terms.amend_bank``
    changes the bank row only while holding it)."""

    remaining_quota: Decimal
    max_line_amount: Decimal


def lock_bank(session: Session, bank_id: str) -> LockedBank:
    """``lock_bank_quota``, with the bank product's line cap read under the same lock."""
    allocated = session.execute(_LOCK_ALLOCATION, {"bank_id": bank_id}).scalar()
    if allocated is None:  # the bank's first line
        _ensure_allocation(session, bank_id)
        allocated = session.execute(_LOCK_ALLOCATION, {"bank_id": bank_id}).scalar_one()
    _held_quota_locks(session).add(bank_id)
    # a statement of its own, after the lock: under READ COMMITTED it sees a quota changed while this
    # transaction waited (one statement joining the bank would keep the bank row as it was when it began)
    terms = session.execute(_BANK_TERMS, {"bank_id": bank_id}).one()
    return LockedBank(terms.quota - allocated, terms.max_line_amount)


_BANKS = Bank.__table__
# Core columns: no ORM compilation on the decision's hot path
_LOCK_ALLOCATION = (
    select(ALLOCATION.c.allocated).where(ALLOCATION.c.bank_id == bindparam("bank_id")).with_for_update()
)
_BANK_TERMS = select(_BANKS.c.quota, _BANKS.c.max_line_amount).where(_BANKS.c.id == bindparam("bank_id"))


def _held_quota_locks(session: Session) -> set[str]:
    """The banks whose quota row this transaction has locked (row locks last until it ends)."""
    return transaction_scoped(session, "ledger.quota_locks", set)


def _held_line_locks(session: Session) -> dict[str, str]:
    """The lines (id → bank id) this transaction has locked."""
    return transaction_scoped(session, "ledger.line_locks", dict)


def remaining_quota(session: Session, bank_id: str) -> Decimal:
    """The bank's quota less the limits of its lines that are not closed (no lock)."""
    row = session.execute(
        select(Bank.quota, func.coalesce(BankAllocation.allocated, ZERO).label("allocated"))
        .outerjoin(BankAllocation, BankAllocation.bank_id == Bank.id)
        .where(Bank.id == bank_id)
    ).first()
    if row is None:
        raise NotFound(f"no bank {bank_id}", field="bank_id")
    return row.quota - Decimal(str(row.allocated)).quantize(Decimal("0.01"))


def _ensure_allocation(session: Session, bank_id: str) -> None:
    if session.get(Bank, bank_id) is None:
        raise NotFound(f"no bank {bank_id}", field="bank_id")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(ALLOCATION).values(bank_id=bank_id, allocated=ZERO).on_conflict_do_nothing())


def _allocate(session: Session, bank_id: str, delta: Decimal) -> None:
    """Move the bank's allocated quota by ``delta``; growth must fit within the quota."""
    if delta == 0:
        return
    statement = update(ALLOCATION).where(ALLOCATION.c.bank_id == bank_id).values(
        allocated=_fen(ALLOCATION.c.allocated + delta)
    )
    if delta > 0:
        quota = select(Bank.quota).where(Bank.id == bank_id).scalar_subquery()
        statement = statement.where(_fen(ALLOCATION.c.allocated + delta) <= _fen(quota))
    if session.execute(statement).rowcount == 1:
        return
    exists = session.scalar(select(ALLOCATION.c.bank_id).where(ALLOCATION.c.bank_id == bank_id))
    if exists is None:  # the bank's first line
        _ensure_allocation(session, bank_id)
        if session.execute(statement).rowcount == 1:
            return
    remaining = remaining_quota(session, bank_id)
    raise Conflict(
        f"a limit {delta} higher exceeds the bank's remaining quota of {max(remaining, ZERO)}",
        field="limit",
        code="bank_quota_exceeded",
        extra={"remaining_quota": str(max(remaining, ZERO))},
    )


# --------------------------------------------------------------------------- movements


def open_line(
    session: Session,
    *,
    dealer_id: str,
    bank_id: str,
    limit: Decimal,
    cause: Cause,
    actor: str,
    grade: str | None = None,
    expires_on: dt.date | None = None,
) -> CreditLineRecord:
    """Open the dealer's line with ``bank_id`` (one per pair), allocating its limit from the bank's quota."""
    limit = money(limit, "limit", allow_zero=True)
    if find_line(session, dealer_id, bank_id) is not None:
        raise Conflict(
            f"dealer {dealer_id} already has a credit line with bank {bank_id}",
            field="bank_id",
            code="line_exists",
        )
    _allocate(session, bank_id, limit)
    now = utcnow()
    line = CreditLineRecord(
        id=new_id("cln"),
        dealer_id=dealer_id,
        bank_id=bank_id,
        limit=limit,
        reserved=ZERO,
        utilised=ZERO,
        status=LineStatus.ACTIVE.value,
        expires_on=expires_on,
        grade=grade,
        version=1,
        opened_at=now,
        updated_at=now,
    )
    session.add(line)
    session.flush()
    empty = CreditLine(limit=ZERO, status=LineStatus.ACTIVE)
    _record(
        session,
        line.id,
        "open",
        limit,
        empty,
        as_model(line),
        cause,
        actor,
        extra={"dealer_id": dealer_id, "bank_id": bank_id, "grade": grade, "expires_on": _iso(expires_on)},
    )
    return line


def reserve(
    session: Session, line_id: str, amount: Decimal, *, cause: Cause, actor: str, on: dt.date | None = None
) -> CreditMovement:
    """Hold ``amount`` for an order loan being decided. ``on``: today (UTC by default), for expiry."""
    amount = money(amount)
    on = on or utcnow().date()
    after = _conditional_update(
        session, line_id, _RESERVE, {"amount": amount, "on": on}, replay=lambda line: line.reserve(amount, on=on)
    )
    before = _with(after, reserved=after.reserved - amount)
    return _record(session, line_id, "reserve", amount, before, after, cause, actor)


def release(session: Session, line_id: str, amount: Decimal, *, cause: Cause, actor: str) -> CreditMovement:
    amount = money(amount)
    after = _conditional_update(
        session, line_id, _RELEASE, {"amount": amount}, replay=lambda line: line.release(amount)
    )
    before = _with(after, reserved=after.reserved + amount)
    return _record(session, line_id, "release", amount, before, after, cause, actor)


def utilise(session: Session, line_id: str, amount: Decimal, *, cause: Cause, actor: str) -> CreditMovement:
    amount = money(amount)
    after = _conditional_update(
        session, line_id, _UTILISE, {"amount": amount}, replay=lambda line: line.utilise(amount)
    )
    before = _with(after, reserved=after.reserved + amount, utilised=after.utilised - amount)
    return _record(session, line_id, "utilise", amount, before, after, cause, actor)


def repay(session: Session, line_id: str, amount: Decimal, *, cause: Cause, actor: str) -> CreditMovement:
    amount = money(amount)
    after = _conditional_update(
        session, line_id, _REPAY, {"amount": amount}, replay=lambda line: line.repay(amount)
    )
    before = _with(after, utilised=after.utilised + amount)
    return _record(session, line_id, "repay", amount, before, after, cause, actor)


def adjust_limit(
    session: Session,
    line_id: str,
    new_limit: Decimal,
    *,
    cause: Cause,
    actor: str,
    below_exposure: bool = False,
    grade: str | None = None,
    expires_on: Any = ...,
) -> CreditMovement:
    """Set a new limit (and the grade, and the expiry unless left ``...``). Under exposure only with
    ``below_exposure``.
    The bank's allocation moves by the difference; a raise must fit within the bank's remaining quota."""
    new_limit = money(new_limit, "limit", allow_zero=True)
    before = _lock_for_limit_change(session, line_id)
    after = _conditional_update(
        session,
        line_id,
        _adjust_statement(below_exposure, grade is not None, expires_on is not ...),
        {"new_limit": new_limit}
        | ({} if grade is None else {"new_grade": grade})
        | ({} if expires_on is ... else {"new_expires_on": expires_on}),
        replay=lambda line: line.adjust_limit(new_limit, below_exposure=below_exposure),
    )
    _allocate(session, before.bank_id, new_limit - before.model.limit)
    return _record(
        session,
        line_id,
        "adjust",
        new_limit,
        before.model,
        after,
        cause,
        actor,
        extra={
            "below_exposure": below_exposure,
            "grade": grade,
            "expires_on": None if expires_on is ... else _iso(expires_on),
        },
    )


def renew(
    session: Session, line_id: str, expires_on: dt.date | None, *, cause: Cause, actor: str
) -> CreditMovement:
    after = _conditional_update(
        session, line_id, _RENEW, {"new_expires_on": expires_on}, replay=lambda line: line.renew(expires_on)
    )
    return _record(
        session,
        line_id,
        "renew",
        ZERO,
        after,
        after,
        cause,
        actor,
        extra={"expires_on": _iso(expires_on)},
    )


def freeze(session: Session, line_id: str, *, cause: Cause, actor: str, reason: str = "") -> CreditMovement:
    return _set_status(
        session,
        line_id,
        "freeze",
        _FREEZE,
        LineStatus.ACTIVE,
        lambda line: line.freeze(),
        cause,
        actor,
        reason,
    )


def unfreeze(session: Session, line_id: str, *, cause: Cause, actor: str, reason: str = "") -> CreditMovement:
    return _set_status(
        session,
        line_id,
        "unfreeze",
        _UNFREEZE,
        LineStatus.FROZEN,
        lambda line: line.unfreeze(),
        cause,
        actor,
        reason,
    )


def close(session: Session, line_id: str, *, cause: Cause, actor: str, reason: str = "") -> CreditMovement:
    """Close the line: no new reservations; what is utilised runs off; its limit leaves the bank quota."""
    before = _lock_for_limit_change(session, line_id)
    movement = _set_status(
        session,
        line_id,
        "close",
        _CLOSE,
        before.model.status,
        lambda line: line.close(),
        cause,
        actor,
        reason,
    )
    _allocate(session, before.bank_id, -before.model.limit)
    return movement


def reopen(
    session: Session,
    line_id: str,
    new_limit: Decimal,
    *,
    cause: Cause,
    actor: str,
    grade: str | None = None,
    expires_on: dt.date | None = None,
) -> CreditMovement:
    """A closed line approved again: active, with a fresh limit allocated from the bank's quota."""
    new_limit = money(new_limit, "limit", allow_zero=True)
    before = _lock_for_limit_change(session, line_id)
    after = _conditional_update(
        session,
        line_id,
        _reopen_statement(grade is not None),
        {"new_limit": new_limit, "new_expires_on": expires_on} | ({} if grade is None else {"new_grade": grade}),
        replay=lambda line: line.reopen(new_limit, expires_on),
    )
    _allocate(session, before.bank_id, new_limit)
    return _record(
        session,
        line_id,
        "reopen",
        new_limit,
        before.model,
        after,
        cause,
        actor,
        extra={"grade": grade, "expires_on": _iso(expires_on)},
    )


# --------------------------------------------------------------------------- machinery


@dataclass(frozen=True)
class _Locked:
    bank_id: str
    model: CreditLine


def _lock_for_limit_change(session: Session, line_id: str) -> _Locked:
    """Lock the bank's allocation row (unless this transaction holds it already), then the line: the lock
    order every limit change follows."""
    bank_id = _held_line_locks(session).get(line_id)  # a line's bank never changes
    if bank_id is None:
        bank_id = session.scalar(select(LINE.c.bank_id).where(LINE.c.id == line_id))
        if bank_id is None:
            raise NotFound(f"no credit line {line_id}", field="line_id")
    if bank_id not in _held_quota_locks(session):
        lock_bank_quota(session, bank_id)
    row = session.execute(_LOCK_LINE, {"line_id": line_id}).one()
    _held_line_locks(session)[line_id] = bank_id
    return _Locked(bank_id, _model_of(row))


def _model_of(row: Any) -> CreditLine:
    return CreditLine(
        limit=row.limit_amount,
        reserved=row.reserved,
        utilised=row.utilised,
        status=LineStatus(row.status),
        expires_on=row.expires_on,
    )


def _with(line: CreditLine, **changes: Any) -> CreditLine:
    return replace(line, **changes)


def _movement_update(*where: ColumnElement[bool], **values: Any) -> Update:
    """The conditional ``UPDATE … WHERE id = :line_id AND <precondition> RETURNING`` of one kind of movement,
    built once: its amounts are parameters (``:amount``, ``:new_limit``...), so each movement only binds them."""
    return (
        update(LINE)
        .where(LINE.c.id == bindparam("line_id"), *where)
        .values(**values, version=LINE.c.version + 1, updated_at=bindparam("now", type_=UTCDateTime()))
        .returning(LINE.c.limit_amount, LINE.c.reserved, LINE.c.utilised, LINE.c.status, LINE.c.expires_on)
    )


# parameter names are never column names: a parameter named like a column that the statement does not
# set would add that column to the SET clause
_AMOUNT = bindparam("amount", type_=Money())
_LIMIT = bindparam("new_limit", type_=Money())
_NEW_GRADE = bindparam("new_grade", type_=String())
_NEW_EXPIRY = bindparam("new_expires_on", type_=Date())
_EXPOSURE_FITS = _fen(LINE.c.reserved + LINE.c.utilised) <= _fen(_LIMIT)
_RESERVE = _movement_update(
    LINE.c.status == LineStatus.ACTIVE.value,
    LINE.c.expires_on.is_(None) | (LINE.c.expires_on >= bindparam("on", type_=Date())),
    _fen(LINE.c.limit_amount - LINE.c.reserved - LINE.c.utilised) >= _fen(_AMOUNT),
    reserved=_fen(LINE.c.reserved + _AMOUNT),
)
_RELEASE = _movement_update(_fen(LINE.c.reserved) >= _fen(_AMOUNT), reserved=_fen(LINE.c.reserved - _AMOUNT))
_UTILISE = _movement_update(
    _fen(LINE.c.reserved) >= _fen(_AMOUNT),
    reserved=_fen(LINE.c.reserved - _AMOUNT),
    utilised=_fen(LINE.c.utilised + _AMOUNT),
)
_REPAY = _movement_update(_fen(LINE.c.utilised) >= _fen(_AMOUNT), utilised=_fen(LINE.c.utilised - _AMOUNT))
_RENEW = _movement_update(LINE.c.status != LineStatus.CLOSED.value, expires_on=_NEW_EXPIRY)
_FREEZE = _movement_update(LINE.c.status == LineStatus.ACTIVE.value, status=LineStatus.FROZEN.value)
_UNFREEZE = _movement_update(LINE.c.status == LineStatus.FROZEN.value, status=LineStatus.ACTIVE.value)
_CLOSE = _movement_update(
    LINE.c.status != LineStatus.CLOSED.value, _fen(LINE.c.reserved) == 0, status=LineStatus.CLOSED.value
)
_LOCK_LINE = select(LINE).where(LINE.c.id == bindparam("line_id")).with_for_update()
_CURRENT_LINE = select(LINE).where(LINE.c.id == bindparam("line_id"))


@cache
def _adjust_statement(below_exposure: bool, set_grade: bool, set_expiry: bool) -> Update:
    values: dict[str, Any] = {"limit_amount": _LIMIT}
    if set_grade:
        values["grade"] = _NEW_GRADE
    if set_expiry:
        values["expires_on"] = _NEW_EXPIRY
    where = [LINE.c.status != LineStatus.CLOSED.value] + ([] if below_exposure else [_EXPOSURE_FITS])
    return _movement_update(*where, **values)


@cache
def _reopen_statement(set_grade: bool) -> Update:
    values: dict[str, Any] = {
        "limit_amount": _LIMIT,
        "status": LineStatus.ACTIVE.value,
        "expires_on": _NEW_EXPIRY,
    }
    if set_grade:
        values["grade"] = _NEW_GRADE
    return _movement_update(LINE.c.status == LineStatus.CLOSED.value, _EXPOSURE_FITS, **values)


def _conditional_update(
    session: Session,
    line_id: str,
    statement: Update,
    params: dict[str, Any],
    *,
    replay: Callable[[CreditLine], CreditLine],
) -> CreditLine:
    """Run a movement's ``_movement_update`` with its ``params``; on no row, say why through the pure
    model."""
    row = session.execute(statement, {**params, "line_id": line_id, "now": utcnow()}).first()
    _forget_cached(session, line_id)
    if row is not None:
        return _model_of(row)
    current = session.execute(_CURRENT_LINE, {"line_id": line_id}).first()
    if current is None:
        raise NotFound(f"no credit line {line_id}", field="line_id")
    replay(_model_of(current))  # raises the domain error naming why
    raise Conflict(
        "the credit line changed while this movement was applied; retry",
        field="line_id",
        code="concurrent_update",
    )


def _forget_cached(session: Session, line_id: str) -> None:
    cached = session.identity_map.get(identity_key(CreditLineRecord, line_id))
    if cached is not None:
        session.expire(cached)


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _figures(line: CreditLine) -> dict[str, str]:
    return {
        "limit": str(line.limit),
        "reserved": str(line.reserved),
        "utilised": str(line.utilised),
        "status": line.status.value,
    }


def _record(
    session: Session,
    line_id: str,
    kind: str,
    amount: Decimal,
    before: CreditLine,
    after: CreditLine,
    cause: Cause,
    actor: str,
    extra: dict[str, Any] | None = None,
) -> CreditMovement:
    """The movement row and its audit entry: the row names the entry (``audit_seq``), the entry the row."""
    row = {
        "line_id": line_id,
        "kind": kind,
        "amount": amount,
        "limit_before": before.limit,
        "limit_after": after.limit,
        "reserved_before": before.reserved,
        "reserved_after": after.reserved,
        "utilised_before": before.utilised,
        "utilised_after": after.utilised,
        "status_before": before.status.value,
        "status_after": after.status.value,
        "caused_by_type": cause.type,
        "caused_by_id": cause.id,
        "actor": actor,
        "at": utcnow(),
        "audit_seq": audit.next_seq(session),
    }
    row["id"] = session.execute(_INSERT_MOVEMENT, row).scalar_one()
    payload = {
        "movement_id": row["id"],
        "kind": kind,
        "amount": str(amount),
        "before": _figures(before),
        "after": _figures(after),
        "caused_by": {"type": cause.type, "id": cause.id},
    }
    if extra:
        payload.update({k: v for k, v in extra.items() if v is not None})
    entry = audit.record(
        session,
        actor=actor,
        action=f"credit_line.{kind}",
        subject_type="credit_line",
        subject_id=line_id,
        payload=payload,
    )
    if entry.seq != row["audit_seq"]:  # nothing else may append between the two
        raise RuntimeError(f"movement {row['id']} expected audit entry {row['audit_seq']}, got {entry.seq}")
    return CreditMovement(**row)


def _set_status(
    session: Session,
    line_id: str,
    kind: str,
    statement: Update,
    before_status: LineStatus | None,
    replay: Callable[[CreditLine], CreditLine],
    cause: Cause,
    actor: str,
    reason: str,
) -> CreditMovement:
    after = _conditional_update(session, line_id, statement, {}, replay=replay)
    before = _with(after, status=before_status)
    return _record(
        session, line_id, kind, ZERO, before, after, cause, actor, extra={"reason": reason or None}
    )
