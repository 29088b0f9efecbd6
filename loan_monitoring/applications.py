"""An order-loan application, end to end, in the caller's transaction.

``apply_for_order_loan``:

1. consent: the dealer's data may be used to decide and monitor the loan (``loan_monitoring``) and the
   decision shared with the bank (``data_sharing_with_bank``);
2. locks, before the first audit entry: the order row (two applications for one order — at any banks —
   queue here, so duplicate financing cannot slip between two checks), then the dealer's line at the bank;
3. the pure inputs from the database (``inputs``): the order and whether it is settled, the invoice, the
   supplier with its settlement account, the dealer, the bank's product, the line, every loan or live
   application on the order or invoice at ANY bank, the related-party links, the LPR table in force
   (``lpr_records``: bundled, ``RISK_LPR_FILE``, and the fixings and confirmations operators recorded);
4. ``application.check_order_loan`` → approve / refer / decline with every check named and explained. The
   contract is made when the engine decides, so ``now`` (not the platform's ``applied_at``, which it can
   back-date) picks the LPR; a ``now`` past the table's confirmed date plus ``RISK_LPR_GRACE_DAYS`` refers;
5. the decision record (``decision``, kind ``order_loan``, like a limit decision), the loan row, its
   ``order_loan.applied`` entry, then: approve → ``approve`` transition, which reserves the amount on the
   line through the ledger; decline → ``decline``; refer → the loan stays ``applied`` and a review case
   opens (``resolve_referral`` carries out the officer's verdict).

The checks are a fixed, versioned list (``CHECKS_VERSION``), recorded where a limit decision records its
rule set; the order-loan decision has no model score.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from compliance import audit, consent
from compliance.audit import canonical_json
from limits import ledger
from loan_monitoring import inputs, lpr_records
from loan_monitoring.application import BankProduct, LoanCheckResult, OrderLoanApplication, check_order_loan
from loan_monitoring.checks import Outcome
from loan_monitoring.models import FINANCING_STATES, OrderLoan
from loan_monitoring.state import LoanEvent, LoanState
from loan_monitoring.trade import invoice_key
from loan_monitoring.transitions import lock_loan, move
from risk_engine.db import utcnow
from risk_engine.decisions import service as decisions
from risk_engine.decisions.models import Decision, ReviewCase
from risk_engine.errors import Conflict, InvalidInput, NotFound
from risk_engine.ids import new_id
from risk_engine.parties.models import Bank, Dealer, Supplier
from risk_engine.settings import Settings
from risk_engine.trade.models import Invoice as TradeInvoice
from risk_engine.trade.models import Order

# 2: apr_within_cap takes the LPR of the decision date, not applied_at, and refers on a stale LPR table
CHECKS_VERSION = 2
CHECKS = (
    "order_exists",
    "order_belongs_to_dealer",
    "order_financeable",
    "order_not_already_financed",
    "invoice_not_already_financed",
    "invoice_matches_order",
    "amount_within_loan_to_order_ratio",
    "supplier_whitelisted",
    "supplier_not_related_to_dealer",
    "tenor_within_product_range",
    "apr_within_cap",
    "credit_line_active",
    "credit_line_has_available_credit",
)
CHECKS_DIGEST = hashlib.sha256(
    canonical_json({"version": CHECKS_VERSION, "checks": list(CHECKS)}).encode()
).hexdigest()


def bank_product(bank: Bank, settings: Settings) -> BankProduct:
    return BankProduct(
        bank.id,
        bank.apr,
        bank.loan_to_order_ratio,
        bank.min_tenor_days,
        bank.max_tenor_days,
        apr_cap_multiple=settings.apr_cap_multiple,
    )


def _by_reference(session: Session, model: type, ref: str, *, for_update: bool = False) -> Any:
    # the engine's id wins over another row's external id that happens to spell it (as dealer_id_of)
    statement = (select(model).where(or_(model.id == ref, model.external_id == ref))
                 .order_by((model.id == ref).desc()).limit(1))
    if for_update:
        statement = statement.with_for_update()
    return session.scalars(statement).first()


def apply_for_order_loan(
    session: Session, settings: Settings, request: Any, *, actor: str, now: datetime | None = None
) -> OrderLoan:
    """Decide an application (``schemas.OrderLoanIn``) and record the decision and the loan; flushes."""
    now = now or utcnow()
    applied_at = request.applied_at or now
    if applied_at > now:
        raise InvalidInput("applied_at is in the future", field="applied_at", code="time_in_future")
    dealer = _by_reference(session, Dealer, request.dealer_id)
    if dealer is None:
        raise NotFound(f"no dealer {request.dealer_id}", field="dealer_id")
    bank = session.get(Bank, request.bank_id)
    if bank is None:
        raise NotFound(f"no bank {request.bank_id}", field="bank_id")
    consent.require_consents(session, dealer.id, consent.ORDER_LOAN_FOR_BANK, now)

    order = _by_reference(session, Order, request.order_id, for_update=True)
    line = ledger.find_line(session, dealer.id, bank.id, for_update=True)
    invoice = (
        inputs.find_invoice(session, request.invoice_code, request.invoice_number)
        if request.invoice_number
        else None
    )
    supplier = session.get(Supplier, order.supplier_id) if order is not None else None
    key = invoice_key(request.invoice_code, request.invoice_number) if request.invoice_number else None

    loan_id = new_id("oln")
    application = OrderLoanApplication(
        loan_id,
        dealer.id,
        bank.id,
        order.id if order else request.order_id,
        request.amount,
        request.tenor_days,
        applied_at,
        key,
        request.upfront_fees,
    )
    product = bank_product(bank, settings)
    result = check_order_loan(
        application,
        inputs.purchase_order_of(session, order) if order else None,
        inputs.invoice_of(invoice) if invoice else None,
        inputs.supplier_of(supplier) if supplier else None,
        inputs.dealer_of(dealer),
        product,
        ledger.as_model(line) if line is not None else None,
        inputs.financings_of(
            session, order_ids=_orders_financed(order.id if order else None, invoice), invoice_keys=[key] if key else []
        ),
        inputs.related_links(session, dealer.id, supplier.id if supplier else None),
        lpr_records.lpr_table(session, settings),
        now,
        lpr_grace_days=settings.lpr_grace_days,
    )
    decision = _record_decision(session, result, request, dealer, bank, line, loan_id, actor, now)
    loan = OrderLoan(
        id=loan_id,
        dealer_id=dealer.id,
        bank_id=bank.id,
        order_id=order.id if order else None,
        supplier_id=supplier.id if supplier else None,
        invoice_id=invoice.id if invoice else None,
        invoice_key=key,
        line_id=line.id if line is not None else None,
        decision_id=decision.id,
        state=LoanState.APPLIED.value,
        amount=request.amount,
        tenor_days=request.tenor_days,
        apr=bank.apr,
        day_count=product.day_count.value,
        upfront_fees=request.upfront_fees,
        all_in_apr=result.all_in_apr,
        apr_cap=result.apr_cap,
        lpr=result.lpr,
        lpr_effective_date=result.lpr_effective_date,
        approved_amount=Decimal("0.00"),
        reserved_held=Decimal("0.00"),
        disbursed_amount=Decimal("0.00"),
        principal_repaid=Decimal("0.00"),
        outstanding_principal=Decimal("0.00"),
        interest_paid=Decimal("0.00"),
        penalty_interest_paid=Decimal("0.00"),
        days_past_due=0,
        bucket="current",
        applied_at=applied_at,
        explanation=result.explanation() | {"order_ref": request.order_id},
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(loan)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="order_loan.applied",
        subject_type="order_loan",
        subject_id=loan.id,
        payload={
            "dealer_id": dealer.id,
            "bank_id": bank.id,
            "order_id": loan.order_id,
            "order_ref": request.order_id,
            "invoice_key": key,
            "amount": str(request.amount),
            "tenor_days": request.tenor_days,
            "decision_id": decision.id,
            "outcome": result.outcome.value,
        },
    )
    if result.outcome is Outcome.APPROVE:
        loan.approved_amount = request.amount
        move(session, loan, LoanEvent.APPROVE, actor=actor, at=now, details={"decision_id": decision.id})
    elif result.outcome is Outcome.DECLINE:
        move(
            session,
            loan,
            LoanEvent.DECLINE,
            actor=actor,
            at=now,
            details={"decision_id": decision.id, "failed_checks": [c.name for c in result.failed_checks]},
        )
    else:
        decisions.open_review_case(session, decision, actor=actor, at=now)
    session.flush()
    return loan


def _orders_financed(order_id: str | None, invoice: TradeInvoice | None) -> list[str]:
    """The orders whose loans would finance this application's trade: its order, and the order its
    invoice bills (a loan on that order finances the invoice, as fund-usage monitoring counts it)."""
    ids = [order_id] if order_id is not None else []
    if invoice is not None and invoice.order_id not in ids:
        ids.append(invoice.order_id)
    return ids


def _record_decision(
    session: Session,
    result: LoanCheckResult,
    request: Any,
    dealer: Dealer,
    bank: Bank,
    line: Any,
    loan_id: str,
    actor: str,
    now: datetime,
) -> Decision:
    failed = result.failed_checks
    recorded_inputs = {
        "as_of": now,
        "loan_id": loan_id,
        "application": json.loads(request.model_dump_json()),
        "bank_product": {
            "apr": bank.apr,
            "loan_to_order_ratio": bank.loan_to_order_ratio,
            "min_tenor_days": bank.min_tenor_days,
            "max_tenor_days": bank.max_tenor_days,
        },
        "line": None if line is None else ledger.as_model(line).to_json(),
        "lpr": {
            "rate": result.lpr,
            "effective_date": result.lpr_effective_date,
            "confirmed_through": result.lpr_confirmed_through,
            "current": result.check("apr_within_cap").evidence.get("lpr_current"),
            "contract_date": result.check("apr_within_cap").evidence.get("contract_date"),
        },
    }
    inputs_json = canonical_json(recorded_inputs)
    reasons = [
        {
            "code": c.name,
            "on_failure": c.on_failure.value,
            "field": c.field,
            "zh": c.reason_zh,
            "en": c.reason_en,
        }
        for c in failed
    ]
    decision = Decision(
        id=new_id("dec"),
        kind="order_loan",
        dealer_id=dealer.id,
        bank_id=bank.id,
        request_ref=loan_id,
        requested_amount=request.amount,
        outcome=result.outcome.value,
        limit=result.amount if result.outcome is not Outcome.DECLINE else Decimal("0.00"),
        binding_constraint=None,  # a limit term; the failed checks are the reason codes
        reason_codes=canonical_json([c.name for c in failed]),
        inputs=inputs_json,
        inputs_sha256=hashlib.sha256(inputs_json.encode()).hexdigest(),
        ruleset_version=CHECKS_VERSION,
        ruleset_digest=CHECKS_DIGEST,
        rule_results=canonical_json({"checks": [c.as_dict() for c in result.checks]}),
        explanation=canonical_json({"reasons": reasons, **result.explanation()}),
        document_sha256="",
        line_id=line.id if line is not None else None,
        decided_at=now,
        decided_by=actor,
    )
    session.add(decision)
    session.flush()
    decision.document_sha256 = hashlib.sha256(
        canonical_json(decisions.decision_document(decision)).encode()
    ).hexdigest()
    entry = audit.record(
        session,
        actor=actor,
        action="decision.order_loan",
        subject_type="decision",
        subject_id=decision.id,
        payload=decisions._audit_payload(decision),
    )
    decision.audit_seq = entry.seq
    return decision


def resolve_referral(
    session: Session, decision: Decision, *, approve: bool, reason: str, actor: str
) -> OrderLoan:
    """An officer's verdict on a referred application: approve (reserving the amount) or decline."""
    loan = session.scalars(select(OrderLoan.id).where(OrderLoan.decision_id == decision.id)).first()
    if loan is None:
        raise NotFound(f"no order loan for decision {decision.id}", field="decision_id")
    locked = lock_loan(session, loan)
    if locked.state != LoanState.APPLIED.value:
        raise Conflict(
            f"the application is {locked.state}: nothing to resolve",
            field="state",
            code="application_not_pending",
        )
    if approve:
        financed = [
            f
            for f in inputs.financings_of(
                session,
                order_ids=_orders_financed(
                    locked.order_id, session.get(TradeInvoice, locked.invoice_id) if locked.invoice_id else None
                ),
                invoice_keys=[locked.invoice_key] if locked.invoice_key else [],
                exclude_loan_id=locked.id,
            )
            if f.state.value in FINANCING_STATES
        ]
        if financed:
            raise Conflict(
                "the order or its invoice was financed by another loan while this application was in review",
                field="order_id",
                code="duplicate_financing",
                extra={"loans_at_other_banks": sum(1 for f in financed if f.bank_id != locked.bank_id)},
            )
        locked.approved_amount = locked.amount
        move(
            session,
            locked,
            LoanEvent.APPROVE,
            actor=actor,
            details={"decision_id": decision.id, "reason": reason},
        )
    else:
        move(
            session,
            locked,
            LoanEvent.DECLINE,
            actor=actor,
            details={"decision_id": decision.id, "reason": reason},
        )
    return locked


def application_view(session: Session, loan: OrderLoan) -> dict[str, Any]:
    """The decision on an application: outcome, every check with its reason, and the loan."""
    decision = session.get(Decision, loan.decision_id) if loan.decision_id else None
    explanation = loan.explanation or {}
    return {
        "loan_id": loan.id,
        "decision_id": loan.decision_id,
        "state": loan.state,
        "outcome": decision.outcome if decision else None,
        "amount": str(loan.amount),
        "approved_amount": str(loan.approved_amount),
        "reserved": str(loan.reserved_held),
        "all_in_apr": explanation.get("all_in_apr"),
        "apr_cap": explanation.get("apr_cap"),
        "lpr": explanation.get("lpr"),
        "lpr_effective_date": explanation.get("lpr_effective_date"),
        "lpr_confirmed_through": explanation.get("lpr_confirmed_through"),
        "max_amount_by_ratio": explanation.get("max_amount_by_ratio"),
        "checks": explanation.get("checks", []),
        "failed_checks": [c["name"] for c in explanation.get("checks", []) if c["status"] == "failed"],
        "review_case_id": _review_case_id(session, loan.decision_id),
    }


def _review_case_id(session: Session, decision_id: str | None) -> str | None:
    if decision_id is None:
        return None
    return session.scalar(select(ReviewCase.id).where(ReviewCase.decision_id == decision_id))
