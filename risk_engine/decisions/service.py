"""The credit-limit decision, end to end, in the caller's transaction.

``decide_credit_limit`` runs, for one dealer and bank:

1. consent: no scoring without a valid ``credit_scoring`` consent, and no decision for a bank without
   ``data_sharing_with_bank`` (``compliance.consent``; 403 otherwise);
2. the dealer's point-in-time features (``FeatureSource``), the attributes the engine knows, and the model
   (``Scorer``) → PD, grade, score, contributions, reason codes — before any lock;
3. locks, in the one order every limit change follows: the guarantor row, the bank's quota row, the
   line — all before the first audit entry (the audit chain serialises appends);
4. the guarantor's capacity (under its lock; the model saw every other attribute), then the active rule
   set (the default becomes version 1 on first use) → knock-out / refer / overlays;
5. the limit policy (``limits.policy.assign_limit``): capacity, the grade's cap, the bank product's cap,
   the bank's remaining quota, the request, the guarantee and the guarantor's regulatory capacity, the
   overlays → the limit and the constraint that bound it; ``decisions.policy.decide`` → the outcome;
6. the decision record, the ledger change (approve: open, adjust or reopen the line), the review case
   (refer) and the audit entries, flushed together: the caller commits once. The dealer's credit-limit
   review cases still active at the bank are closed as superseded by this decision (their proposed limit
   and grade are out of date).

The services flush and never commit; ``api.idempotency`` commits the decision with its stored response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from compliance import audit, consent, screening
from compliance.audit import canonical_json
from compliance.models import AuditEntry
from limits import exposure, ledger
from limits.models import CreditLineRecord
from loan_monitoring.alerts import Action as AlertAction
from loan_monitoring.dates import business_date
from loan_monitoring.models import Alert, OrderLoan
from loan_monitoring.state import OUTSTANDING_STATES
from risk_engine.db import insert_new, utcnow
from risk_engine.decisions import context as rule_context
from risk_engine.decisions import policy
from risk_engine.decisions.exceptions import ModelUnavailable
from risk_engine.decisions.models import ACTIVE_REVIEW_STATUSES, Decision, ReviewCase
from risk_engine.decisions.ports import Clock, FeatureSource, FeatureVector, Score, Scorer
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank, Dealer, Supplier
from risk_engine.rules import engine as rules_engine
from risk_engine.rules import service as rules_service
from risk_engine.trade.models import Order, RelatedPartyLink

PD_QUANTUM = Decimal("1E-10")
DEFAULT_LINE_TERM_DAYS = 365


@dataclass(frozen=True)
class DecisionSettings:
    line_term_days: int = DEFAULT_LINE_TERM_DAYS


def decide_credit_limit(
    session: Session,
    request: Any,
    *,
    scorer: Scorer,
    features: FeatureSource,
    clock: Clock = utcnow,
    actor: str,
    config: DecisionSettings = DecisionSettings(),
    blacklist: Any | None = None,
) -> Decision:
    """Rate the dealer and assign a limit with the bank. ``request``: ``dealer_id``, ``bank_id``, optional
    ``requested_amount``, ``guarantee_amount``, ``request_ref`` (``schemas.CreditLimitRequestIn``).
    ``blacklist``: the platform's current blacklist (``compliance.kyb.Blacklist``), when one is kept."""
    now = clock()
    # plain rows of the columns a decision reads (no PII, no ORM objects to build and track)
    dealer = session.execute(_DEALER, {"id": request.dealer_id}).first()
    if dealer is None:
        raise NotFound(f"no dealer {request.dealer_id}", field="dealer_id")
    bank = session.execute(_BANK, {"id": request.bank_id}).first()
    if bank is None:
        raise NotFound(f"no bank {request.bank_id}", field="bank_id")
    consent.require_consents(session, dealer.id, consent.CREDIT_LIMIT_FOR_BANK, now)

    # Scoring needs no lock: it runs before them, so concurrent decisions at one bank wait for each
    # other only as long as the limit and the writes take.
    vector = _features(features, session, dealer.id, now)
    attributes = dealer_attributes(
        session,
        dealer,
        now,
        requested_amount=request.requested_amount,
        guarantor_exhausted=None,
        blacklist=blacklist,
    )
    score = _score(scorer, session, vector.values, attributes)

    guarantor = exposure.lock_guarantor(session, dealer.guarantor_id) if dealer.guarantor_id else None
    locked_bank = ledger.lock_bank(session, bank.id)  # its quota and product cap as of the lock
    remaining_quota = locked_bank.remaining_quota
    line = ledger.find_line(session, dealer.id, bank.id, for_update=True)
    if session.execute(_DEALER_GUARANTOR, {"id": dealer.id}).scalar() != dealer.guarantor_id:
        # an admin changed the dealer's guarantor after it was read (terms.assign_guarantor holds both
        # guarantors and the dealer's lines): deciding under the old one would misplace its guarantee
        raise Conflict(f"dealer {dealer.id}'s guarantor changed while its limit was being decided: ask again",
                       field="dealer_id", code="guarantor_changed")
    ruleset, ruleset_record = rules_service.active_ruleset(session)
    support, capacity = exposure.guarantee_support(
        session, guarantor, dealer.id, line, committed_amount=request.guarantee_amount, today=business_date(now)
    )
    # no guarantor, or an expired guarantee that backs nothing: no capacity to be over
    attributes["guarantor_over_capacity"] = False if capacity is None else capacity.exhausted
    context = rule_context.build_context(vector.values, attributes)
    rule_outcome = rules_engine.evaluate(ruleset, context)

    open_line = line is not None and line.status != "closed"
    inputs = policy.LimitInputs(
        avg_monthly_purchases=rule_context.average_monthly_purchases(context),
        product_cap=locked_bank.max_line_amount,
        bank_remaining_quota=remaining_quota + (line.limit if open_line else Decimal("0.00")),
        requested_amount=request.requested_amount,
        guarantee=support,
        current_exposure=line.exposure if line is not None else Decimal("0.00"),
    )
    verdict = policy.decide(rule_outcome, score.grade, inputs)

    recorded_inputs = {
        "as_of": now,
        "features": {name: rule_context.plain_value(v) for name, v in vector.values.items()},
        "feature_snapshot": vector.snapshot_id,
        "feature_source": vector.source,
        "attributes": {name: rule_context.plain_value(v) for name, v in attributes.items()},
        "limit_inputs": inputs.to_json(),
        "guarantor_capacity": None if capacity is None else capacity.to_json(),
        "model": {"pd": _pd(score.pd), "grade": score.grade, "score": score.score},
        "existing_line": None if line is None else ledger.as_model(line).to_json(),
    }
    inputs_json = canonical_json(recorded_inputs)
    decision_id = new_id("dec")
    line_id = None
    if verdict.outcome == "approve":
        line_id = grant_limit(
            session,
            line,
            dealer_id=dealer.id,
            bank_id=bank.id,
            limit=verdict.limit,
            grade=verdict.grade,
            expires_on=business_date(now) + timedelta(days=config.line_term_days),  # Beijing dates, as licences
            cause=ledger.Cause("decision", decision_id),
            actor=actor,
        )
    decision = Decision(
        id=decision_id,
        kind="credit_limit",
        dealer_id=dealer.id,
        bank_id=bank.id,
        request_ref=request.request_ref,
        requested_amount=request.requested_amount,
        outcome=verdict.outcome,
        model_grade=score.grade,
        grade=verdict.grade,
        pd=_pd(score.pd),
        score=score.score,
        limit=verdict.limit,
        binding_constraint=verdict.binding,
        reason_codes=canonical_json([r["code"] for r in verdict.reasons]),
        inputs=inputs_json,
        inputs_sha256=_sha256(inputs_json),
        model_version=score.model_version,
        model_hash=score.model_hash,
        ruleset_version=ruleset_record.version,
        ruleset_digest=ruleset_record.digest,
        rule_results=canonical_json(rule_results_json(rule_outcome)),
        explanation=canonical_json(_explanation(verdict, score, rule_outcome)),
        line_id=line_id,
        decided_at=now,
        decided_by=actor,
    )
    decision.document_sha256 = _sha256(canonical_document(decision))
    # this decision makes the proposals of the dealer's credit-limit cases still active at the bank out of
    # date: lock them now, after the ledger's locks and before the first audit entry (the order a resolving
    # officer follows too, see reviews.resolve), and close them once the decision row exists
    outdated = session.execute(_ACTIVE_LIMIT_CASES, {"dealer_id": dealer.id, "bank_id": bank.id}).all()
    entry = audit.record(
        session,
        actor=actor,
        action="decision.credit_limit",
        subject_type="decision",
        subject_id=decision.id,
        payload=_audit_payload(decision),
    )
    decision.audit_seq = entry.seq
    insert_new(session, decision)
    if outdated:
        supersede_review_cases(session, [row.id for row in outdated], decision, actor=actor, at=now)
    if verdict.outcome == "refer":
        open_review_case(session, decision, actor=actor, at=now)
    session.flush()
    return decision


_DEALERS, _BANKS = Dealer.__table__, Bank.__table__
_DEALER = select(  # by the engine's id or the platform's own (external) id, as order loans and events
    _DEALERS.c.id, _DEALERS.c.credit_code, _DEALERS.c.registered_on, _DEALERS.c.licence_expires_on,
    _DEALERS.c.guarantor_id,
).where(or_(_DEALERS.c.id == bindparam("id"), _DEALERS.c.external_id == bindparam("id")))
# an engine id wins over another dealer's external id that happens to spell it
_DEALER = _DEALER.order_by((_DEALERS.c.id == bindparam("id")).desc()).limit(1)
_BANK = select(_BANKS.c.id).where(_BANKS.c.id == bindparam("id"))  # its terms are read under its lock
_DEALER_GUARANTOR = select(_DEALERS.c.guarantor_id).where(_DEALERS.c.id == bindparam("id"))


def grant_limit(
    session: Session,
    line: CreditLineRecord | None,
    *,
    dealer_id: str,
    bank_id: str,
    limit: Decimal,
    grade: str | None,
    expires_on: Any,
    cause: ledger.Cause,
    actor: str,
    below_exposure: bool = False,
) -> str:
    """Open, adjust or reopen the dealer's line with the bank to ``limit``; returns the line id."""
    if line is not None:  # read before the movement, which expires the loaded line (a re-read on access)
        line_id, status = line.id, line.status
    if line is None:
        return ledger.open_line(
            session,
            dealer_id=dealer_id,
            bank_id=bank_id,
            limit=limit,
            grade=grade,
            expires_on=expires_on,
            cause=cause,
            actor=actor,
        ).id
    if status == "closed":
        ledger.reopen(session, line_id, limit, grade=grade, expires_on=expires_on, cause=cause, actor=actor)
    else:
        ledger.adjust_limit(
            session,
            line_id,
            limit,
            grade=grade,
            expires_on=expires_on,
            cause=cause,
            actor=actor,
            below_exposure=below_exposure,
        )
    return line_id


def open_review_case(session: Session, decision: Decision, *, actor: str, at: datetime) -> ReviewCase:
    case = ReviewCase(
        id=new_id("rev"),
        decision_id=decision.id,
        dealer_id=decision.dealer_id,
        bank_id=decision.bank_id,
        status="open",
        proposed_limit=decision.limit,
        opened_at=at,
    )
    insert_new(session, case)
    audit.record(
        session,
        actor=actor,
        action="review.opened",
        subject_type="review_case",
        subject_id=case.id,
        payload={
            "decision_id": decision.id,
            "proposed_limit": decision.limit,
            "reasons": json.loads(decision.reason_codes),
        },
    )
    return case


_REVIEWS, _DECISIONS = ReviewCase.__table__, Decision.__table__
# the credit-limit cases of a dealer at a bank not yet closed (an order-loan case is about its loan alone)
_ACTIVE_LIMIT_CASES = (
    select(_REVIEWS.c.id)
    .join(_DECISIONS, _DECISIONS.c.id == _REVIEWS.c.decision_id)
    .where(
        _REVIEWS.c.dealer_id == bindparam("dealer_id"),
        _REVIEWS.c.bank_id == bindparam("bank_id"),
        _REVIEWS.c.status.in_(ACTIVE_REVIEW_STATUSES),
        _DECISIONS.c.kind == "credit_limit",
    )
    .order_by(_REVIEWS.c.opened_at, _REVIEWS.c.id)
    .with_for_update(of=_REVIEWS)
)


def supersede_review_cases(
    session: Session, case_ids: list[str], decision: Decision, *, actor: str, at: datetime
) -> list[ReviewCase]:
    """Close the cases (locked by the caller) as superseded by the newer ``decision``: an officer can no
    longer grant their outdated limit and grade. A pending override dies with its case. One audit entry
    per case, naming the decision."""
    cases = list(
        session.scalars(
            select(ReviewCase)
            .where(ReviewCase.id.in_(case_ids))
            .order_by(ReviewCase.opened_at, ReviewCase.id)
            .execution_options(populate_existing=True)
        )
    )
    closed = []
    for case in cases:
        pending = None
        if case.pending_resolution is not None:
            pending = {
                "resolution": case.pending_resolution,
                "limit": case.pending_limit,
                "reason": case.pending_reason,
                "proposed_by": case.proposed_by,
            }
        closed.append((case, {"previous_status": case.status, "assignee": case.assignee, "pending": pending}))
        case.status, case.superseded_by, case.resolved_at = "superseded", decision.id, at
        case.pending_resolution = case.pending_limit = case.pending_reason = None
        case.proposed_by = case.proposed_at = None
    session.flush()
    for case, before in closed:
        audit.record(
            session,
            actor=actor,
            action="review.superseded",
            subject_type="review_case",
            subject_id=case.id,
            payload={
                "decision_id": case.decision_id,
                "proposed_limit": case.proposed_limit,
                "superseded_by": decision.id,
                "superseding_outcome": decision.outcome,
                "superseding_limit": decision.limit,
                **before,
            },
        )
    return cases


# --------------------------------------------------------------------------- inputs


def dealer_attributes(
    session: Session,
    dealer: Any,
    now: datetime,
    *,
    requested_amount: Decimal | None,
    guarantor_exhausted: bool | None,
    blacklist: Any | None = None,
) -> dict[str, Any]:
    """The attributes the engine itself knows about the dealer (they override the feature vector's).
    ``dealer``: a ``Dealer`` or a row with its ``id``, ``credit_code``, ``registered_on`` and
    ``licence_expires_on``.
    ``blacklisted`` is only set when a blacklist is given (``blacklist_screened`` says whether one was);
    otherwise the feature source may supply it, and without it the decision is referred as not screened.

    From the engine's own records, in one statement: related-party trade; the worst days past due of the
    dealer's outstanding order loans as the daily delinquency job last set it (``loan_days_past_due``,
    which ``dpd_current`` takes when it is the worse); the warning and critical alerts still open on the
    dealer — early warning, fund usage, delinquency (``open_alert_count``) — and the open alerts that
    ask for a grade notch at the next limit review (``alert_grade_notches``); and whether fund-usage
    monitoring found an order or invoice of the dealer financed twice (``duplicate_financing_flag``: an
    alert of that kind, open or resolved other than as a false positive).
    """
    today = business_date(now)  # licences, guarantees and line terms run on Beijing dates
    attributes: dict[str, Any] = screening.blacklist_attributes(blacklist, credit_code=dealer.credit_code)
    known = session.execute(_ENGINE_FACTS, {"dealer_id": dealer.id, "now": now}).one()
    return attributes | {
        "consent_scoring": True,  # require_consent passed
        "kyb_verified": True,  # onboarding refuses a dealer that fails KYB screening
        "business_age_months": rule_context.months_between(dealer.registered_on, today),
        "licence_days_remaining": rule_context.licence_days_remaining(dealer.licence_expires_on, today),
        "related_party_flag": bool(known.related_trade),
        "loan_days_past_due": known.loan_days_past_due or 0,
        "open_alert_count": known.open_alerts,
        "alert_grade_notches": known.alert_grade_notches,
        "duplicate_financing_flag": bool(known.duplicate_financing),
        "guarantor_over_capacity": guarantor_exhausted,
        "requested_amount": requested_amount,
    }


_ORDERS, _LINKS = Order.__table__, RelatedPartyLink.__table__
_LOANS, _ALERTS, _SUPPLIERS = OrderLoan.__table__, Alert.__table__, Supplier.__table__
_DEALER_ID, _NOW = bindparam("dealer_id"), bindparam("now")
_ENGINE_FACTS = select(  # Core columns: no ORM compilation on the decision's hot path
    # the dealer buys from a supplier it is related to (shared owner, representative, address, account),
    # as the platform reported, or through a settlement account the engine holds for both
    or_(
        exists().where(
            _LINKS.c.dealer_id == _DEALER_ID,
            _LINKS.c.recorded_at <= _NOW,
            exists().where(
                and_(
                    _ORDERS.c.dealer_id == _LINKS.c.dealer_id,
                    _ORDERS.c.supplier_id == _LINKS.c.supplier_id,
                    _ORDERS.c.placed_at <= _NOW,
                )
            ),
        ),
        exists().where(
            _ORDERS.c.dealer_id == _DEALER_ID,
            _ORDERS.c.placed_at <= _NOW,
            _SUPPLIERS.c.id == _ORDERS.c.supplier_id,
            _DEALERS.c.id == _DEALER_ID,
            _SUPPLIERS.c.account_number_index == _DEALERS.c.account_number_index,
        ),
    )
    .label("related_trade"),
    select(func.max(_LOANS.c.days_past_due))
    .where(_LOANS.c.dealer_id == _DEALER_ID, _LOANS.c.state.in_(sorted(s.value for s in OUTSTANDING_STATES)))
    .scalar_subquery()
    .label("loan_days_past_due"),
    select(func.count())  # info-level findings (e.g. a concentrated supplier base) call for no action
    .select_from(_ALERTS)
    .where(
        _ALERTS.c.dealer_id == _DEALER_ID,
        _ALERTS.c.status == "open",
        _ALERTS.c.severity.in_(("warning", "critical")),
        _ALERTS.c.raised_at <= _NOW,
    )
    .scalar_subquery()
    .label("open_alerts"),
    select(func.count())  # of those, the ones whose actions (a JSON list) ask for a grade notch
    .select_from(_ALERTS)
    .where(
        _ALERTS.c.dealer_id == _DEALER_ID,
        _ALERTS.c.status == "open",
        _ALERTS.c.raised_at <= _NOW,
        cast(_ALERTS.c.actions, String).contains(f'"{AlertAction.NOTCH_GRADE.value}"'),
    )
    .scalar_subquery()
    .label("alert_grade_notches"),
    exists()
    .where(
        _ALERTS.c.dealer_id == _DEALER_ID,
        _ALERTS.c.kind == "duplicate_financing",
        _ALERTS.c.raised_at <= _NOW,
        or_(_ALERTS.c.resolution.is_(None), _ALERTS.c.resolution != "false_positive"),
    )
    .label("duplicate_financing"),
)


def _features(source: FeatureSource | None, session: Session, dealer_id: str, now: datetime) -> FeatureVector:
    if source is None:
        raise ModelUnavailable("no feature source is configured", code="features_unavailable")
    vector = source.features_for(session, dealer_id, now)
    if not isinstance(vector, FeatureVector):
        raise TypeError("FeatureSource.features_for must return a FeatureVector")
    return vector


def _score(
    scorer: Scorer | None, session: Session, features: Mapping[str, Any], attributes: Mapping[str, Any]
) -> Score:
    if scorer is None:
        raise ModelUnavailable("no champion model is available to score", code="model_unavailable")
    score = scorer.score(features, attributes, session=session)
    if not 0.0 <= score.pd <= 1.0:
        raise ValueError(f"the scorer returned a PD outside [0, 1]: {score.pd}")
    return score


def _pd(pd: float) -> Decimal:
    return Decimal(repr(float(pd))).quantize(PD_QUANTUM)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rule_results_json(outcome: rules_engine.RuleOutcome) -> dict[str, Any]:
    """Every rule's result; the wording only for the rules that fired (the rest is in the rule set, whose
    digest the decision records)."""
    summary = outcome.to_json()
    results = []
    for r in outcome.results:
        item: dict[str, Any] = {"code": r.code, "kind": r.kind.value, "status": r.status.value}
        if r.missing_inputs:
            item["missing_inputs"] = list(r.missing_inputs)
        if r.detail is not None:
            item["detail"] = r.detail
        if r.fired:
            item |= {"reason_zh": r.reason_zh, "reason_en": r.reason_en}
            if r.action is not None:
                item["action"] = r.action.to_json()
        results.append(item)
    return {**{k: v for k, v in summary.items() if k != "results"}, "results": results}


def _explanation(
    verdict: policy.Verdict, score: Score, rule_outcome: rules_engine.RuleOutcome
) -> dict[str, Any]:
    contributions = sorted(score.contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return {
        "reasons": verdict.reasons,
        "model": {
            "pd": _pd(score.pd),
            "grade": score.grade,
            "score": score.score,
            "base": score.base,
            "margin": score.margin,
            "contributions": dict(contributions),
            "reason_codes": [r.to_json() for r in score.reason_codes],
            "version": score.model_version,
            "hash": score.model_hash,
            **({"extra": dict(score.extra)} if score.extra else {}),
        },
        "limit": verdict.limit_decision.to_json(),
        "rules": {k: v for k, v in rule_outcome.to_json().items() if k != "results"},
    }


def _audit_payload(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.id,
        "kind": decision.kind,
        "dealer_id": decision.dealer_id,
        "bank_id": decision.bank_id,
        "outcome": decision.outcome,
        "limit": decision.limit,
        "binding_constraint": decision.binding_constraint,
        "grade": decision.grade,
        "pd": decision.pd,
        "score": decision.score,
        "model_version": decision.model_version,
        "model_hash": decision.model_hash,
        "ruleset_version": decision.ruleset_version,
        "ruleset_digest": decision.ruleset_digest,
        "inputs_sha256": decision.inputs_sha256,
        "decision_sha256": decision.document_sha256,
        "line_id": decision.line_id,
    }


# --------------------------------------------------------------------------- reading


def audit_entry_of_bank(session: Session, seq: int, bank_id: str) -> bool:
    """Whether audit entry ``seq`` records a decision at the bank, or the resolution of one of its review
    cases: the entries a bank may have proofs of (anything else answers as if it did not exist)."""
    entry = session.execute(
        select(AuditEntry.subject_type, AuditEntry.subject_id).where(AuditEntry.seq == seq)
    ).first()
    if entry is None:
        return False
    if entry.subject_type == "decision":
        owner = select(Decision.bank_id).where(Decision.id == entry.subject_id, Decision.audit_seq == seq)
    elif entry.subject_type == "review_case":
        owner = select(ReviewCase.bank_id).where(ReviewCase.id == entry.subject_id,
                                                 ReviewCase.resolution_audit_seq == seq)
    else:
        return False
    return session.execute(owner).scalar() == bank_id


def decision_kinds(session: Session, decision_ids: list[str]) -> dict[str, str]:
    """The kind (``credit_limit``, ``order_loan``) of each decision, by id, in one query."""
    if not decision_ids:
        return {}
    return dict(session.execute(select(Decision.id, Decision.kind).where(Decision.id.in_(decision_ids))).all())


def jsonable(value: Any) -> Any:
    """Plain JSON data for a response: money and PD as decimal strings, times RFC 3339 UTC."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


_DOCUMENT_JSON_FIELDS = {
    "inputs": "inputs",
    "rules": "rule_results",
    "explanation": "explanation",
    "reason_codes": "reason_codes",
}


def canonical_document(decision: Decision) -> str:
    """RFC 8785 text of ``decision_document``, with the stored canonical members (inputs, rules, explanation,
    reason codes) inserted as they are rather than parsed and serialised again: the same bytes, a fraction
    of the work. Each member stands in the document as a placeholder string until then."""
    document = decision_document(decision, parse=False)
    for key in _DOCUMENT_JSON_FIELDS:
        document[key] = f"\x00{key}\x00"
    text = canonical_json(document)
    for key, column in _DOCUMENT_JSON_FIELDS.items():
        text = text.replace(f'"\\u0000{key}\\u0000"', getattr(decision, column), 1)
    return text


def decision_document(decision: Decision, *, parse: bool = True) -> dict[str, Any]:
    """The decision as plain data, everything a bank or an officer needs to check it (no audit seq: the
    audit entry names this document's hash). ``parse=False`` leaves the stored JSON members as text."""

    def load(text: str) -> Any:
        return json.loads(text) if parse else text

    return {
        "id": decision.id,
        "kind": decision.kind,
        "dealer_id": decision.dealer_id,
        "bank_id": decision.bank_id,
        "request_ref": decision.request_ref,
        "requested_amount": decision.requested_amount,
        "outcome": decision.outcome,
        "model_grade": decision.model_grade,
        "grade": decision.grade,
        "pd": decision.pd,
        "score": decision.score,
        "limit": decision.limit,
        "binding_constraint": decision.binding_constraint,
        "reason_codes": load(decision.reason_codes),
        "model": {"version": decision.model_version, "hash": decision.model_hash},
        "ruleset": {"version": decision.ruleset_version, "digest": decision.ruleset_digest},
        "inputs": load(decision.inputs),
        "inputs_sha256": decision.inputs_sha256,
        "rules": load(decision.rule_results),
        "explanation": load(decision.explanation),
        "line_id": decision.line_id,
        "decided_at": decision.decided_at,
        "decided_by": decision.decided_by,
    }


def _review_of(session: Session, decision: Decision, *, just_made: bool) -> dict[str, Any] | None:
    """The decision's review case in brief. ``just_made``: made in this transaction, so only a referral
    has one."""
    if just_made and decision.outcome != "refer":
        return None
    case = session.scalars(select(ReviewCase).where(ReviewCase.decision_id == decision.id)).first()
    if case is None:
        return None
    return {
        "id": case.id,
        "status": case.status,
        "resolution": case.resolution,
        "resolved_limit": case.resolved_limit,
    }


def decision_json(session: Session, decision: Decision, *, just_made: bool = False) -> bytes:
    """``decision_view`` (full) as the JSON the API sends, written from the decision's canonical document
    (the text ``decision_sha256`` hashes, built from the stored canonical members) with the audit seq and
    the review case appended: no parsing of the stored JSON and no walk over the result."""
    document = canonical_document(decision)
    extra = canonical_json(
        {
            "decision_sha256": decision.document_sha256,
            "audit_seq": decision.audit_seq,
            "review": _review_of(session, decision, just_made=just_made),
        }
    )
    return f"{document[:-1]},{extra[1:]}".encode()


def decision_view(session: Session, decision: Decision, *, full: bool = True) -> dict[str, Any]:
    """The decision for the API: the document, its audit entry and review case (``full=False``: a summary)."""
    review = _review_of(session, decision, just_made=False)
    if not full:
        return {
            "id": decision.id,
            "kind": decision.kind,
            "dealer_id": decision.dealer_id,
            "bank_id": decision.bank_id,
            "outcome": decision.outcome,
            "grade": decision.grade,
            "pd": decision.pd,
            "score": decision.score,
            "limit": decision.limit,
            "binding_constraint": decision.binding_constraint,
            "reason_codes": json.loads(decision.reason_codes),
            "decided_at": decision.decided_at,
            "audit_seq": decision.audit_seq,
            "review": review,
        }
    return {
        **decision_document(decision),
        "decision_sha256": decision.document_sha256,
        "audit_seq": decision.audit_seq,
        "review": review,
    }


def get_decision(session: Session, decision_id: str, *, bank_id: str | None = None) -> Decision:
    """One decision; with ``bank_id`` (a bank client) another bank's decision is not found."""
    decision = session.get(Decision, decision_id)
    if decision is None or (bank_id is not None and decision.bank_id != bank_id):
        raise NotFound(f"no decision {decision_id}")
    return decision


def list_decisions(
    session: Session,
    *,
    since: datetime | None = None,
    after_seq: int | None = None,
    bank_id: str | None = None,
    dealer_id: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[Decision]:
    """Decisions in the order they were made (oldest first from ``since``), at most ``limit``.

    ``after_seq``: the decisions whose audit entry comes after that sequence number, in audit order,
    which is commit order (the audit chain's lock is held from a decision's entry to its commit). A
    bank polls with the ``audit_seq`` of the last decision it read and misses none: ``decided_at`` is
    taken before the decision waits for its locks, so one made later may carry an earlier time."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit must be between 1 and 1000", field="limit")
    if after_seq is None:
        statement = select(Decision).order_by(Decision.decided_at, Decision.id)
    else:
        statement = select(Decision).where(Decision.audit_seq > after_seq).order_by(Decision.audit_seq)
    if since is not None:
        statement = statement.where(Decision.decided_at >= since)
    for column, value in (
        (Decision.bank_id, bank_id),
        (Decision.dealer_id, dealer_id),
        (Decision.kind, kind),
    ):
        if value is not None:
            statement = statement.where(column == value)
    return list(session.scalars(statement.limit(limit)))


# --------------------------------------------------------------------------- simulation


def simulate_ruleset(session: Session, version: int, *, last: int) -> dict[str, Any]:
    """Run rule set ``version`` over the recorded inputs of the last ``last`` credit-limit decisions and
    report how outcomes and limits would change (grade and limit policy re-run on the recorded inputs)."""
    if not 1 <= last <= 10_000:
        raise InvalidInput("last must be between 1 and 10000", field="last")
    record = rules_service.get_record(session, version)
    draft = rules_service.to_ruleset(record)
    recent = list(
        session.scalars(
            select(Decision)
            .where(Decision.kind == "credit_limit")
            .order_by(Decision.decided_at.desc(), Decision.id.desc())
            .limit(last)
        )
    )
    recent.reverse()
    recorded = [json.loads(d.inputs) for d in recent]
    contexts = [rule_context.build_context(r["features"], r["attributes"]) for r in recorded]
    by_context = {id(ctx): inputs for ctx, inputs in zip(contexts, recorded, strict=True)}
    outcomes = [{"decision": d.outcome, "limit": d.limit} for d in recent]
    report = rules_engine.simulate(
        draft,
        contexts,
        outcomes,
        decide=lambda ctx, outcome, _recorded: policy.reprice(by_context[id(ctx)], outcome),
    )
    result = report.to_json()
    for change in result["changes"]:
        change["decision_id"] = recent[change["index"]].id
    result["decisions"] = len(recent)
    result["ruleset_status"] = record.status
    result["ruleset_versions_judged"] = sorted({d.ruleset_version for d in recent})
    return result
