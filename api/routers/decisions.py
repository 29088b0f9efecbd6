"""HTTP for limit decisions: credit-limit requests (platform), decisions (banks, officers), credit lines.

The scorer and the feature source come from ``app.state.scorer`` and ``app.state.feature_source``
(``risk_engine.decisions.ports``); until they are set, a credit-limit request answers 503.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from api.auth import Authenticator, BankOrOfficerClient, PlatformClient, Principal
from api.deps import DbSession
from api.idempotency import Idempotency
from limits import ledger
from risk_engine.db import utcnow
from risk_engine.decisions import service
from risk_engine.decisions.schemas import CreditLimitRequestIn, CreditLineOut, DealerCreditLinesOut
from risk_engine.errors import InvalidInput, NotFound
from risk_engine.parties import service as parties

router = APIRouter(prefix="/v1", tags=["decisions"])
LineReader = Annotated[Principal, Depends(Authenticator("platform", "bank", "risk_officer", "admin"))]


def bank_scope(principal: Principal) -> str | None:
    """The bank a client may see (bank clients), or None for everyone else."""
    return principal.bank_id if principal.role == "bank" else None


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("give a time zone (RFC 3339, e.g. 2026-11-25T00:00:00Z)", field=field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("outside the years 1-9999 once converted to UTC", field=field) from None


@router.post(
    "/credit-limit-requests",
    status_code=201,
    summary="Rate a dealer and assign a credit limit with one bank: the decision",
    description=(
        "Consent, rules, model, limit policy → approve / refer / decline. An approval opens or adjusts the "
        "credit line; a referral opens a review case. The answer is the full decision with its explanation "
        "and the constraint that bound the limit."
    ),
)
def request_credit_limit(
    body: CreditLimitRequestIn,
    principal: PlatformClient,
    session: DbSession,
    idem: Idempotency,
    request: Request,
) -> Response:
    state = request.app.state
    blacklist_source = getattr(state, "blacklist", None)

    def decide() -> dict[str, Any]:
        decision = service.decide_credit_limit(
            session,
            body,
            scorer=getattr(state, "scorer", None),
            features=getattr(state, "feature_source", None),
            clock=getattr(state, "clock", utcnow),
            actor=principal.actor,
            config=service.DecisionSettings(line_term_days=state.settings.credit_line_term_days),
            blacklist=None if blacklist_source is None else blacklist_source.current(),
        )
        return service.decision_json(session, decision, just_made=True)

    return idem.run(session, principal, decide, status_code=201)


@router.get("/decisions", summary="Decisions in the order they were made (a bank sees its own)")
def list_decisions(
    principal: BankOrOfficerClient,
    session: DbSession,
    since: Annotated[datetime | None, Query(description="RFC 3339; decisions made at or after")] = None,
    after_seq: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="the `audit_seq` of the last decision read: the decisions committed "
              "after it, in commit order (a polling cursor that misses none)"),
    ] = None,
    dealer_id: Annotated[str | None, Query(max_length=64, description="the engine's or the platform's id")] = None,
    kind: Annotated[str | None, Query(pattern="^(credit_limit|order_loan)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    decisions = service.list_decisions(
        session,
        since=_aware(since, "since"),
        after_seq=after_seq,
        bank_id=bank_scope(principal),
        dealer_id=None if dealer_id is None else (parties.dealer_id_of(session, dealer_id) or dealer_id),
        kind=kind,
        limit=limit,
    )
    return service.jsonable([service.decision_view(session, d, full=False) for d in decisions])


@router.get(
    "/decisions/{decision_id}",
    summary="One decision with its full explanation",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "The decision document"}},
)
def get_decision(decision_id: str, principal: BankOrOfficerClient, session: DbSession) -> Response:
    decision = service.get_decision(session, decision_id, bank_id=bank_scope(principal))
    return Response(service.decision_json(session, decision), media_type="application/json")


@router.get(
    "/dealers/{dealer_id}/credit-line",
    response_model=DealerCreditLinesOut,
    summary="The dealer's credit lines, per bank (a bank sees its own line)",
)
def get_credit_lines(dealer_id: str, principal: LineReader, session: DbSession) -> DealerCreditLinesOut:
    reference, dealer_id = dealer_id, parties.dealer_id_of(session, dealer_id)  # the engine's or the platform's id
    if dealer_id is None:
        raise NotFound(f"no dealer {reference}")
    scope = bank_scope(principal)
    lines = [
        line for line in ledger.lines_of_dealer(session, dealer_id) if scope is None or line.bank_id == scope
    ]
    if scope is not None and not lines:
        # a dealer without a line at this bank is a foreign id: answered as an unknown one, so a bank learns
        # neither that the dealer is on the platform nor the engine's id behind the platform's
        raise NotFound(f"no dealer {reference}")
    return DealerCreditLinesOut(
        dealer_id=dealer_id, lines=[CreditLineOut.model_validate(line) for line in lines]
    )
