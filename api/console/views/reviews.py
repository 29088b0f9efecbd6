"""The review queue and the decision page: list referred decisions, assign one to me, read a decision
with its explanation, resolve it with a reason, and (as another officer) approve or reject an override.

The state changes are ``risk_engine.decisions.reviews.assign_to / resolve / second_approval`` — the
functions ``api.routers.reviews`` calls — with the form validated by the API's own request schemas, so
the same rules hold and the same audit entries are written in the same transaction.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.console import presenters, queries
from api.console.auth import CheckedForm, ConsoleOfficer, Officer, clock, form_text, safe_next
from api.console.rendering import render
from api.console.views.common import flash_from, friendly_error, validation_message
from api.deps import DbSession
from compliance import audit
from risk_engine.decisions import reviews, service
from risk_engine.decisions.models import ACTIVE_REVIEW_STATUSES, REVIEW_STATUSES
from risk_engine.decisions.schemas import ReviewResolutionIn, SecondApprovalIn
from risk_engine.errors import DomainError, NotFound
from scoring.catalog import CATALOG

router = APIRouter()
Status = Literal["active", "open", "assigned", "awaiting_second_approval", "resolved", "superseded", "all"]
Sort = Literal["opened_at", "-opened_at", "proposed_limit", "-proposed_limit"]
STATUSES = REVIEW_STATUSES
ACTIVE = ACTIVE_REVIEW_STATUSES  # "active": every case not yet closed (resolved or superseded), by status
QUEUE_LIMIT = 200


@router.get("/console/reviews")
def review_queue(
    request: Request,
    officer: ConsoleOfficer,
    session: DbSession,
    status: Status = "active",
    bank: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Literal["any", "me"] = "any",
    sort: Sort = "opened_at",
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    wanted = ACTIVE if status == "active" else (None,) if status == "all" else (status,)
    cases = [
        case
        for one in wanted
        for case in reviews.list_cases(
            session,
            status=one,
            bank_id=bank or None,
            assignee=officer.actor if assignee == "me" else None,
            sort=sort,
            limit=QUEUE_LIMIT,
        )
    ]
    if len(wanted) > 1:  # one query per status: put the cases back in the order asked for, across statuses
        field = sort.removeprefix("-")
        cases.sort(key=lambda c: _sort_key(getattr(c, field), c.id), reverse=sort.startswith("-"))
        cases = cases[:QUEUE_LIMIT]
    rows = queries.review_rows(session, cases)
    return render(
        request,
        "reviews.html",
        officer=officer,
        rows=rows,
        status=status,
        bank=bank or "",
        assignee=assignee,
        sort=sort,
        statuses=STATUSES,
        sorts=list(reviews.SORTS),
        banks=queries.bank_names(session),
        flash=flash_from(officer.t, done),
    )


@router.post("/console/reviews/{case_id}/assignment")
def assign_to_me(
    case_id: str, request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession
) -> Response:
    back = safe_next(form_text(form, "next"))
    try:
        reviews.assign_to(session, case_id, officer=officer.actor, clock=clock(request))
        session.commit()
    except DomainError as exc:
        session.rollback()
        return friendly_error(request, officer, exc.status, exc.detail, back=back)
    return RedirectResponse(_with_flash(back, "resolve.assigned"), status_code=303)


@router.get("/console/reviews/{case_id}")
def review_case(case_id: str, request: Request, officer: ConsoleOfficer, session: DbSession) -> Response:
    try:
        case = reviews.get_case(session, case_id)
    except NotFound as exc:
        return friendly_error(request, officer, 404, exc.detail)
    return RedirectResponse(f"/console/decisions/{case.decision_id}#review", status_code=303)


@router.get("/console/decisions/{decision_id}")
def decision_page(
    decision_id: str,
    request: Request,
    officer: ConsoleOfficer,
    session: DbSession,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    return _decision_page(request, officer, session, decision_id, flash=flash_from(officer.t, done))


@router.post("/console/reviews/{case_id}/resolution")
def resolve(
    case_id: str, request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession
) -> Response:
    settings = request.app.state.settings
    try:
        body = ReviewResolutionIn.model_validate(
            {
                "resolution": form_text(form, "resolution"),
                "limit": _amount(form_text(form, "limit"))
                if form_text(form, "resolution") == "adjust"
                else None,
                "reason": form_text(form, "reason"),
            }
        )
        case = reviews.resolve(
            session,
            case_id,
            resolution=body.resolution,
            reason=body.reason,
            limit=body.limit,
            officer=officer.actor,
            second_approval_above=settings.override_second_approval_above,
            line_term_days=settings.credit_line_term_days,
            clock=clock(request),
        )
        decision_id = case.decision_id
        session.commit()
    except (DomainError, ValidationError) as exc:
        return _refused(request, officer, session, case_id, exc, form)
    done = "resolve.pending" if case.status == "awaiting_second_approval" else "resolve.done"
    return RedirectResponse(f"/console/decisions/{decision_id}?done={done}#review", status_code=303)


@router.post("/console/reviews/{case_id}/second-approval")
def second_approval(
    case_id: str, request: Request, officer: ConsoleOfficer, form: CheckedForm, session: DbSession
) -> Response:
    settings = request.app.state.settings
    try:
        body = SecondApprovalIn.model_validate(
            {"decision": form_text(form, "decision"), "reason": form_text(form, "reason")}
        )
        case = reviews.second_approval(
            session,
            case_id,
            approve=body.decision == "approve",
            reason=body.reason,
            officer=officer.actor,
            line_term_days=settings.credit_line_term_days,
            clock=clock(request),
        )
        decision_id = case.decision_id
        session.commit()
    except (DomainError, ValidationError) as exc:
        return _refused(request, officer, session, case_id, exc, form)
    done = "second.approved" if case.status == "resolved" else "second.rejected"
    return RedirectResponse(f"/console/decisions/{decision_id}?done={done}#review", status_code=303)


# --------------------------------------------------------------------------- helpers


def _sort_key(value: Any, case_id: str) -> tuple:
    """A missing value sorts first, as SQLite orders NULL."""
    return (value is not None, value if value is not None else 0, case_id)


def _amount(text: str) -> str:
    """What an officer types (``250,000.00``, ``250000``) as the API's decimal string."""
    return text.replace(",", "").replace(" ", "").replace("，", "")


def _with_flash(path: str, key: str) -> str:
    base, _, fragment = path.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}done={key}" + (f"#{fragment}" if fragment else "")


def _refused(
    request: Request, officer: Officer, session: Session, case_id: str, exc: Exception, form: Any
) -> Response:
    session.rollback()
    if isinstance(exc, ValidationError):
        message, status = "; ".join(validation_message(e, officer.t) for e in exc.errors()), 422
    else:
        message, status = exc.detail, exc.status
    try:
        decision_id = reviews.get_case(session, case_id).decision_id
    except NotFound as missing:
        return friendly_error(request, officer, 404, missing.detail)
    return _decision_page(
        request,
        officer,
        session,
        decision_id,
        error=message,
        status_code=status,
        form={k: form_text(form, k) for k in ("resolution", "limit", "reason", "decision")},
    )


def _decision_page(
    request: Request,
    officer: Officer,
    session: Session,
    decision_id: str,
    *,
    flash: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    t = officer.t
    try:
        decision = service.get_decision(session, decision_id)
    except NotFound as exc:
        return friendly_error(request, officer, 404, exc.detail)
    document = service.decision_view(session, decision)
    case = None
    history = audit.entries_for(session, "decision", decision.id)
    if document.get("review"):
        case = reviews.case_view(reviews.get_case(session, document["review"]["id"]))
        history = history + audit.entries_for(session, "review_case", case["id"])
    fired, all_rules = presenters.rule_results(document, t)
    settings = request.app.state.settings
    people = [e.actor for e in history]
    if case:
        people += [case[k] for k in ("assignee", "resolved_by", "second_approver") if case[k]]
        if case["pending"]:
            people.append(case["pending"]["proposed_by"])
    return render(
        request,
        "decision.html",
        officer=officer,
        status_code=status_code,
        flash=flash,
        error=error,
        d=document,
        case=case,
        names=queries.party_names(session, [decision.dealer_id], [decision.bank_id]),
        explanation=presenters.explanation(document, t, presenters.feature_labels(CATALOG, t)),
        candidates=presenters.limit_candidates(document),
        fired=fired,
        all_rules=all_rules,
        reasons=presenters.reasons(document, t),
        history=queries.entries_with_payload(history),
        actors=queries.actor_names(session, people),
        threshold=settings.override_second_approval_above,
        form=form or {},
    )
