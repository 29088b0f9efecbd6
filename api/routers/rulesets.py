"""HTTP for rule sets (admin): list, read, draft, approve (maker-checker), activate, simulate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.auth import AdminClient
from api.deps import DbSession
from api.idempotency import Idempotency
from risk_engine.decisions import service as decisions
from risk_engine.decisions.schemas import RuleSetDraftIn
from risk_engine.rules import service

router = APIRouter(prefix="/v1/rulesets", tags=["rulesets"])


@router.get(
    "",
    summary="Every rule-set version, newest first (without the rules)",
    description="The shipped default becomes version 1 at the first decision or draft (or the demo seed).",
)
def list_rulesets(
    principal: AdminClient, session: DbSession, status: Literal["draft", "active", "retired"] | None = None
) -> list[dict[str, Any]]:
    return decisions.jsonable(
        [service.ruleset_json(r, with_rules=False) for r in service.list_records(session, status)]
    )


@router.get("/{version}", summary="One rule-set version with its rules")
def get_ruleset(version: int, principal: AdminClient, session: DbSession) -> dict[str, Any]:
    return decisions.jsonable(service.ruleset_json(service.get_record(session, version)))


@router.post(
    "", status_code=201, summary="A new draft: from rules, or a copy of a version (default: the active)"
)
def create_draft(
    body: RuleSetDraftIn, principal: AdminClient, session: DbSession, idem: Idempotency
) -> Response:
    return idem.run(
        session,
        principal,
        lambda: decisions.jsonable(
            service.ruleset_json(
                service.create_draft(
                    session,
                    author=principal.actor,
                    rules=body.rules,
                    copy_of=body.copy_of,
                    description=body.description,
                )
            )
        ),
        status_code=201,
    )


@router.post("/{version}/approval", summary="Approve a draft (the approver may not be its author: 403)")
def approve(version: int, principal: AdminClient, session: DbSession, idem: Idempotency) -> Response:
    return idem.run(
        session,
        principal,
        lambda: decisions.jsonable(
            service.ruleset_json(service.approve(session, version, approver=principal.actor))
        ),
    )


@router.post("/{version}/activation", summary="Activate an approved draft; the active version is retired")
def activate(version: int, principal: AdminClient, session: DbSession, idem: Idempotency) -> Response:
    return idem.run(
        session,
        principal,
        lambda: decisions.jsonable(
            service.ruleset_json(service.activate(session, version, actor=principal.actor))
        ),
    )


@router.post(
    "/{version}/simulation",
    summary="Replay a rule set over the recorded inputs of the last N decisions (changes nothing)",
)
def simulate(
    version: int,
    principal: AdminClient,
    session: DbSession,
    last: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    return decisions.jsonable(decisions.simulate_ruleset(session, version, last=last))
