"""HTTP for order loans: the platform applies and cancels, the bank reports what it paid and what
came back (entrusted payment), readers see the loan with its fund-usage trace. A bank sees only its
own bank's loans: another bank's loan answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.auth import Authenticator, BankClient, PlatformClient, Principal
from api.deps import DbSession, Keys
from api.errors import domain_problem
from api.idempotency import Idempotency
from loan_monitoring import applications, service, views
from loan_monitoring.schemas import (
    ApplicationOut,
    CancelIn,
    DisbursementIn,
    DisbursementOut,
    FundFlowIn,
    FundFlowOut,
    OrderLoanIn,
    OrderLoanOut,
    RecallIn,
    RepaymentIn,
    RepaymentOut,
)

router = APIRouter(prefix="/v1", tags=["order loans"])
LoanReader = Annotated[Principal, Depends(Authenticator("platform", "bank", "risk_officer", "admin"))]


def _bank_scope(principal: Principal) -> str | None:
    return principal.bank_id if principal.role == "bank" else None


def _view(session: DbSession, loan_id: str, principal: Principal) -> OrderLoanOut:
    loan = service.visible_loan(session, loan_id, _bank_scope(principal))
    return OrderLoanOut(**views.loan_view(session, loan))


@router.post(
    "/order-loans",
    status_code=201,
    response_model=ApplicationOut,
    summary="Apply for a loan against one purchase order; the decision (Idempotency-Key required)",
    description="Every check runs and is returned with its reason (zh/en) and the field at fault: the "
    "order is the dealer's and financeable; neither the order nor the invoice is financed "
    "at any bank; the amount within the bank's loan-to-order ratio; the supplier "
    "whitelisted and not related to the dealer; the tenor within the product's range; the "
    "all-in APR within 4 x the one-year LPR; the dealer's line active with enough "
    "available credit. `approve` reserves the amount on the line; `refer` opens a review "
    "case; `decline` records why. The decision is recorded like a limit decision.",
)
def apply_for_order_loan(
    body: OrderLoanIn, principal: PlatformClient, session: DbSession, idem: Idempotency, request: Request
) -> Response:
    idem.require_key()

    def apply() -> ApplicationOut:
        loan = applications.apply_for_order_loan(
            session, request.app.state.settings, body, actor=principal.actor
        )
        return ApplicationOut(**applications.application_view(session, loan))

    return idem.run(session, principal, apply, status_code=201)


@router.get(
    "/order-loans/{loan_id}",
    response_model=OrderLoanOut,
    summary="The loan with what is owed, its tranches, repayments, fund-usage trace and alerts",
)
def get_order_loan(loan_id: str, principal: LoanReader, session: DbSession) -> OrderLoanOut:
    return _view(session, loan_id, principal)


@router.post(
    "/order-loans/{loan_id}/cancel",
    response_model=OrderLoanOut,
    summary="Withdraw an application or an approved, undisbursed loan; releases the reservation",
)
def cancel_order_loan(
    loan_id: str,
    principal: PlatformClient,
    session: DbSession,
    idem: Idempotency,
    body: CancelIn | None = None,
) -> Response:
    def cancel() -> OrderLoanOut:
        service.cancel(session, loan_id, reason=body.reason if body else None, actor=principal.actor)
        return _view(session, loan_id, principal)

    return idem.run(session, principal, cancel)


@router.post(
    "/order-loans/{loan_id}/disbursements",
    status_code=201,
    response_model=DisbursementOut,
    summary="Report a tranche paid to the order's supplier (entrusted payment): reserved → utilised",
    description="The payee must be the order's supplier settlement account: another payee is refused "
    "(422 `payee_not_supplier_account`) and raises a critical alert that freezes the line. "
    "Tranches together may not exceed the approved amount (409).",
)
def report_disbursement(
    loan_id: str,
    body: DisbursementIn,
    principal: BankClient,
    session: DbSession,
    idem: Idempotency,
    keys: Keys,
    request: Request,
) -> Response:
    settings = request.app.state.settings
    try:
        return idem.run(
            session,
            principal,
            lambda: DisbursementOut(
                **views.disbursement_view(
                    service.report_disbursement(
                        session,
                        keys,
                        settings,
                        loan_id,
                        principal.bank_id,
                        reference=body.reference,
                        amount=body.amount,
                        payee_account=body.payee_account,
                        paid_at=body.paid_at,
                        actor=principal.actor,
                    )
                )
            ),
            status_code=201,
        )
    except service.PayeeNotSupplierAccount as refused:
        # The report is refused, but the alert and the audit entry it raises are kept: commit them with the
        # refusal itself stored under the Idempotency-Key, so a retry replays it and records nothing again.
        # A retry racing this one waits on the loan's lock, then finds the stored refusal.
        alerts = service.record_refused_disbursement(session, settings, refused, actor=principal.actor)
        refused.extra["alert_ids"] = [a.id for a in alerts]
        answer = domain_problem(refused, request)
        earlier = idem.replay(session, principal)
        if earlier is not None:
            session.rollback()
            return earlier
        idem.store(session, principal, answer.status_code, bytes(answer.body), answer.media_type)
        session.commit()
        return answer


@router.post(
    "/order-loans/{loan_id}/repayments",
    status_code=201,
    response_model=RepaymentOut,
    summary="Report a repayment: allocated to penalty interest, interest, then principal",
    description="The principal part releases utilised credit on the dealer's line; paid in full, the "
    "loan is repaid; arrears cleared, an overdue loan is current again.",
)
def report_repayment(
    loan_id: str, body: RepaymentIn, principal: BankClient, session: DbSession, idem: Idempotency
) -> Response:
    return idem.run(
        session,
        principal,
        lambda: RepaymentOut(
            **views.repayment_view(
                service.report_repayment(
                    session,
                    loan_id,
                    principal.bank_id,
                    reference=body.reference,
                    amount=body.amount,
                    paid_at=body.paid_at,
                    actor=principal.actor,
                )
            )
        ),
        status_code=201,
    )


@router.post(
    "/order-loans/{loan_id}/fund-flows",
    status_code=201,
    response_model=FundFlowOut,
    summary="Report a supplier receipt, a refund or an onward transfer from the account-flow records",
    description="Fund-usage monitoring runs on the loan right after, raising alerts with evidence.",
)
def report_fund_flow(
    loan_id: str,
    body: FundFlowIn,
    principal: BankClient,
    session: DbSession,
    idem: Idempotency,
    keys: Keys,
    request: Request,
) -> Response:
    return idem.run(
        session,
        principal,
        lambda: FundFlowOut(
            **views.fund_flow_view(
                service.report_fund_flow(
                    session,
                    keys,
                    request.app.state.settings,
                    loan_id,
                    principal.bank_id,
                    kind=body.kind,
                    reference=body.reference,
                    amount=body.amount,
                    occurred_at=body.occurred_at,
                    from_account=body.from_account,
                    to_account=body.to_account,
                    actor=principal.actor,
                )
            )
        ),
        status_code=201,
    )


@router.post(
    "/order-loans/{loan_id}/recall",
    response_model=OrderLoanOut,
    summary="The bank calls a disbursed or overdue loan due now",
)
def recall_order_loan(
    loan_id: str, body: RecallIn, principal: BankClient, session: DbSession, idem: Idempotency
) -> Response:
    def recall() -> OrderLoanOut:
        service.recall(
            session, loan_id, principal.bank_id, reason=body.reason, actor=principal.actor, at=body.at
        )
        return _view(session, loan_id, principal)

    return idem.run(session, principal, recall)
