"""HTTP for the review queue (risk officers): list, assign to me, resolve, second approval."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth import BankOrOfficerClient, OfficerClient
from api.deps import DbSession
from api.idempotency import Idempotency
from risk_engine.db import utcnow
from risk_engine.decisions import reviews, service
from risk_engine.decisions.schemas import ReviewResolutionIn, SecondApprovalIn

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
Status = Literal["open", "assigned", "awaiting_second_approval", "resolved", "superseded"]
Sort = Literal["opened_at", "-opened_at", "proposed_limit", "-proposed_limit"]


def _clock(request: Request):  # noqa: ANN202
    return getattr(request.app.state, "clock", utcnow)


@router.get(
    "",
    summary="Review cases: filter by status, bank or assignee (`me` for yourself), sorted",
    description="`superseded`: closed by a newer credit-limit decision for the same dealer and bank, which "
    "`superseded_by` names.",
)
def list_reviews(
    principal: OfficerClient,
    session: DbSession,
    status: Status | None = None,
    bank_id: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[
        str | None, Query(max_length=128, description="an officer's actor id, or `me`")
    ] = None,
    sort: Sort = "opened_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    who = principal.actor if assignee == "me" else assignee
    cases = reviews.list_cases(session, status=status, bank_id=bank_id, assignee=who, sort=sort, limit=limit)
    return service.jsonable([reviews.case_view(case) for case in cases])


@router.get(
    "/resolutions",
    summary="Resolutions of referred decisions in commit order (a bank sees its own): the polling cursor",
    description="What officers decided on referred decisions, after `after_seq` (the `audit_seq` of the last "
    "resolution read), oldest first: the outcome, the limit, the reason, maker and checker, and the "
    "resolution's audit entry whole. A bank recomputes `audit_entry.entry_hash` from its columns and checks "
    "it against `GET /v1/audit/proofs/{audit_seq}` under a signed checkpoint (docs/decisions.md).",
)
def list_resolutions(
    principal: BankOrOfficerClient,
    session: DbSession,
    after_seq: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    bank = principal.bank_id if principal.role == "bank" else None
    rows = reviews.list_resolutions(session, after_seq=after_seq, bank_id=bank, limit=limit)
    kinds = service.decision_kinds(session, [case.decision_id for case, _ in rows])
    return service.jsonable([reviews.resolution_view(case, entry, kinds[case.decision_id]) for case, entry in rows])


@router.get("/{case_id}", summary="One review case with its decision and full explanation")
def get_review(case_id: str, principal: OfficerClient, session: DbSession) -> dict[str, Any]:
    case = reviews.get_case(session, case_id)
    decision = service.get_decision(session, case.decision_id)
    return service.jsonable(reviews.case_view(case) | {"decision": service.decision_view(session, decision)})


@router.post("/{case_id}/assignment", summary="Assign the case to me")
def assign_to_me(
    case_id: str, principal: OfficerClient, session: DbSession, idem: Idempotency, request: Request
) -> Response:
    return idem.run(
        session,
        principal,
        lambda: service.jsonable(
            reviews.case_view(
                reviews.assign_to(session, case_id, officer=principal.actor, clock=_clock(request))
            )
        ),
    )


@router.post(
    "/{case_id}/resolution",
    summary="Resolve: approve, decline or adjust the limit, with a reason",
    description="An override granting a limit above RISK_OVERRIDE_SECOND_APPROVAL_ABOVE (and above the "
    "line's current limit) waits for a second officer: status `awaiting_second_approval`. A case closed by "
    "a newer credit-limit decision for the dealer and bank (status `superseded`, `superseded_by`) answers "
    "409 `case_superseded`; an override beyond a hard limit answers 409 `above_product_cap`, "
    "`guarantor_over_capacity` or `guarantee_expired`.",
)
def resolve(
    case_id: str,
    body: ReviewResolutionIn,
    principal: OfficerClient,
    session: DbSession,
    idem: Idempotency,
    request: Request,
) -> Response:
    settings = request.app.state.settings
    return idem.run(
        session,
        principal,
        lambda: service.jsonable(
            reviews.case_view(
                reviews.resolve(
                    session,
                    case_id,
                    resolution=body.resolution,
                    reason=body.reason,
                    limit=body.limit,
                    officer=principal.actor,
                    second_approval_above=settings.override_second_approval_above,
                    line_term_days=settings.credit_line_term_days,
                    clock=_clock(request),
                )
            )
        ),
    )


@router.post(
    "/{case_id}/second-approval",
    summary="The second officer confirms or rejects an override",
    description="The officer who proposed the override may not approve it (403 `maker_checker`).",
)
def second_approval(
    case_id: str,
    body: SecondApprovalIn,
    principal: OfficerClient,
    session: DbSession,
    idem: Idempotency,
    request: Request,
) -> Response:
    settings = request.app.state.settings
    return idem.run(
        session,
        principal,
        lambda: service.jsonable(
            reviews.case_view(
                reviews.second_approval(
                    session,
                    case_id,
                    approve=body.decision == "approve",
                    reason=body.reason,
                    officer=principal.actor,
                    line_term_days=settings.credit_line_term_days,
                    clock=_clock(request),
                )
            )
        ),
    )
