"""Rule sets stored as data: seeding the default, drafting, maker-checker approval, activation.

The lifecycle rules are the pure ones of ``rules.model`` (``approve``, ``activate``, ``retire``); this
module loads and stores them, audits every step and flushes; the caller commits. The default rule set
(``default_ruleset.json``) becomes version 1, active, the first time a rule set is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from compliance import audit
from compliance.audit import canonical_json
from risk_engine.db import utcnow
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.rules import defaults, model
from risk_engine.rules.model import Rule, RuleSet, RuleSetStatus
from risk_engine.rules.models import RuleSetRecord

SEED_ACTOR = "system:seed"


def context_names() -> frozenset[str]:
    """Every name a rule may read: the documented context names and the feature catalog's columns."""
    from scoring.catalog import FEATURE_NAMES

    return defaults.known_context_names(FEATURE_NAMES)


# --------------------------------------------------------------------------- loading


def to_ruleset(record: Any) -> RuleSet:
    """The rule set of a stored record or row (``version``, ``body``, ``author``, ``status``, ``approver``)."""
    description, rules = _parsed_rules(record.body)
    return RuleSet(version=record.version, rules=rules, author=record.author, status=RuleSetStatus(record.status),
                   approver=record.approver, description=description)


@lru_cache(maxsize=64)
def _parsed_rules(body: str) -> tuple[str, tuple[Rule, ...]]:
    """Parse a stored body once per process: every decision reads the active rule set."""
    parsed = model.ruleset_from_json({**json.loads(body), "version": 1, "author": "-"})
    return parsed.description, parsed.rules


def ruleset_json(record: RuleSetRecord, *, with_rules: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": record.version,
        "status": record.status,
        "digest": record.digest,
        "description": record.description,
        "author": record.author,
        "approver": record.approver,
        "based_on": record.based_on,
        "created_at": record.created_at,
        "approved_at": record.approved_at,
        "activated_at": record.activated_at,
        "activated_by": record.activated_by,
        "retired_at": record.retired_at,
    }
    if with_rules:
        data["rules"] = json.loads(record.body)["rules"]
    return data


def get_record(session: Session, version: int) -> RuleSetRecord:
    record = session.get(RuleSetRecord, version)
    if record is None:
        raise NotFound(f"no rule set version {version}", field="version")
    return record


def list_records(session: Session, status: str | None = None) -> list[RuleSetRecord]:
    statement = select(RuleSetRecord).order_by(RuleSetRecord.version.desc())
    if status is not None:
        statement = statement.where(RuleSetRecord.status == status)
    return list(session.scalars(statement))


def active_ruleset(session: Session) -> tuple[RuleSet, Any]:
    """The active rule set and its stored row (``version``, ``digest``, ``body``...: a plain row, read by
    every decision); the shipped default becomes version 1 when no rule set exists yet."""
    row = session.execute(_ACTIVE_ROW).first()
    if row is None:
        seed_default_ruleset(session)
        row = session.execute(_ACTIVE_ROW).first()
    if row is None:
        raise Conflict("no rule set is active: activate an approved draft", code="no_active_ruleset")
    return to_ruleset(row), row


_RULE_SETS = RuleSetRecord.__table__
_ACTIVE_ROW = select(_RULE_SETS).where(_RULE_SETS.c.status == RuleSetStatus.ACTIVE.value)


def _active_record(session: Session) -> RuleSetRecord | None:
    return session.scalars(
        select(RuleSetRecord).where(RuleSetRecord.status == RuleSetStatus.ACTIVE.value)
    ).first()


# --------------------------------------------------------------------------- changes


def seed_default_ruleset(session: Session, *, actor: str = SEED_ACTOR) -> RuleSetRecord | None:
    """Store the shipped default as version 1, active, if no rule set exists. Returns it when stored now.

    Safe when two first requests race: the insert does nothing if version 1 (or an active set) exists.
    """
    if session.scalar(select(func.count()).select_from(RuleSetRecord)):
        return None
    ruleset = defaults.load_default_ruleset()
    now = utcnow()
    values = dict(
        version=ruleset.version,
        status=RuleSetStatus.ACTIVE.value,
        body=_body(ruleset),
        digest=model.ruleset_digest(ruleset),
        description=ruleset.description,
        author=ruleset.author,
        approver=ruleset.approver,
        based_on=None,
        created_at=now,
        approved_at=now,
        activated_at=now,
        activated_by=actor,
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = RuleSetRecord.__table__
    inserted = session.execute(
        insert(table).values(**_bind(table, values)).on_conflict_do_nothing().returning(table.c.version)
    ).first()
    if inserted is None:
        return None
    audit.record(
        session,
        actor=actor,
        action="ruleset.seeded",
        subject_type="rule_set",
        subject_id=str(ruleset.version),
        payload={
            "version": ruleset.version,
            "digest": values["digest"],
            "source": "default_ruleset.json",
            "author": ruleset.author,
            "approver": ruleset.approver,
        },
    )
    return session.get(RuleSetRecord, ruleset.version, populate_existing=True)


def create_draft(
    session: Session,
    *,
    author: str,
    rules: Iterable[Mapping[str, Any]] | None = None,
    copy_of: int | None = None,
    description: str | None = None,
    known_names: Iterable[str] | None = None,
) -> RuleSetRecord:
    """A new draft: from ``rules`` (JSON rule objects), or a copy of version ``copy_of`` (the active one when
    neither is given). Every rule is validated; a condition reading an unknown name is refused."""
    base_ruleset, base_record = _base(session, copy_of) if rules is None else (None, None)
    if rules is not None and copy_of is not None:
        raise InvalidInput("give rules or copy_of, not both", field="copy_of")
    version = (session.scalar(select(func.max(RuleSetRecord.version))) or 0) + 1
    data = {
        "version": version,
        "author": author,
        "description": description
        if description is not None
        else (base_ruleset.description if base_ruleset else ""),
        "rules": list(rules) if rules is not None else [r.to_json() for r in base_ruleset.rules],
    }
    draft = model.ruleset_from_json(data, known_names if known_names is not None else context_names())
    record = RuleSetRecord(
        version=version,
        status=RuleSetStatus.DRAFT.value,
        body=_body(draft),
        digest=model.ruleset_digest(draft),
        description=draft.description,
        author=draft.author,
        based_on=base_record.version if base_record else None,
        created_at=utcnow(),
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "another draft took this version number at the same moment; retry",
            field="version",
            code="concurrent_draft",
        ) from None
    audit.record(
        session,
        actor=author,
        action="ruleset.drafted",
        subject_type="rule_set",
        subject_id=str(version),
        payload={
            "version": version,
            "digest": record.digest,
            "based_on": record.based_on,
            "rules": len(draft.rules),
            "description": draft.description,
        },
    )
    return record


def approve(session: Session, version: int, *, approver: str) -> RuleSetRecord:
    """The checker's approval. The author may not approve their own draft (403 ``maker_checker``)."""
    record = _lock(session, version)
    approved = model.approve(to_ruleset(record), approver)
    record.approver = approved.approver
    record.approved_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=approver,
        action="ruleset.approved",
        subject_type="rule_set",
        subject_id=str(version),
        payload={"version": version, "digest": record.digest, "author": record.author},
    )
    return record


def activate(session: Session, version: int, *, actor: str) -> RuleSetRecord:
    """Make an approved draft the active rule set; the previously active one is retired."""
    record = _lock(session, version)
    model.activate(to_ruleset(record))  # raises unless an approved draft
    previous = _active_record(session)
    now = utcnow()
    if previous is not None:
        model.retire(to_ruleset(previous))
        previous.status = RuleSetStatus.RETIRED.value
        previous.retired_at = now
        session.flush()  # the old version leaves 'active' before the new one enters it (one-active index)
    record.status = RuleSetStatus.ACTIVE.value
    record.activated_at = now
    record.activated_by = actor
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "another rule set was activated at the same moment; retry", code="concurrent_activation"
        ) from None
    audit.record(
        session,
        actor=actor,
        action="ruleset.activated",
        subject_type="rule_set",
        subject_id=str(version),
        payload={
            "version": version,
            "digest": record.digest,
            "approver": record.approver,
            "retired": None if previous is None else previous.version,
        },
    )
    return record


def _lock(session: Session, version: int) -> RuleSetRecord:
    record = session.scalars(
        select(RuleSetRecord)
        .where(RuleSetRecord.version == version)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if record is None:
        raise NotFound(f"no rule set version {version}", field="version")
    return record


def _base(session: Session, copy_of: int | None) -> tuple[RuleSet, RuleSetRecord]:
    if copy_of is None:
        return active_ruleset(session)
    record = get_record(session, copy_of)
    return to_ruleset(record), record


def _body(ruleset: RuleSet) -> str:
    return canonical_json({"description": ruleset.description, "rules": [r.to_json() for r in ruleset.rules]})


def _bind(table: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {table.c[name].key: value for name, value in values.items()}


def describe_change(before: RuleSet, after: RuleSet) -> dict[str, list[str]]:
    """Which rule codes a draft adds, removes or changes relative to another version."""
    old = {r.code: r.to_json() for r in before.rules}
    new = {r.code: r.to_json() for r in after.rules}
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(code for code in set(old) & set(new) if old[code] != new[code]),
    }
