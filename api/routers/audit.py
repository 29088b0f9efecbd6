"""HTTP for the audit trail's signed checkpoints and proofs, and the public signing keys (JWKS)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.auth import AdminClient, Authenticator, Principal
from api.deps import DbSession, Keys
from api.idempotency import Idempotency
from compliance import checkpoints
from compliance.keys import JWKS_MAX_AGE
from compliance.schemas import CheckpointOut, ConsistencyProofOut, InclusionProofOut

router = APIRouter(tags=["audit"])
# Hashes and signed tree heads only, no tenant data: a bank holding checkpoints from its reports checks that
# the log it was shown earlier is a prefix of today's (docs/compliance.md §2).
ConsistencyReader = Annotated[Principal, Depends(Authenticator("bank", "admin"))]


@router.get("/.well-known/jwks.json", summary="Public signing keys, retired and next ones included (no auth)",
            response_class=JSONResponse)
def jwks(keys: Keys) -> JSONResponse:
    # A new signing key is published JWKS_MAX_AGE before it signs (compliance.keys): keep the two tied.
    return JSONResponse(keys.public_jwks(), media_type="application/jwk-set+json",
                        headers={"Cache-Control": f"public, max-age={int(JWKS_MAX_AGE.total_seconds())}"})


@router.get("/v1/audit/checkpoints", response_model=list[CheckpointOut],
            summary="Signed tree heads over the audit trail, newest first")
def list_checkpoints(
    principal: AdminClient, session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_size: Annotated[int | None, Query(ge=0, description="page: checkpoints smaller than this")] = None,
) -> list[CheckpointOut]:
    rows = checkpoints.list_checkpoints(session, limit=limit, before_size=before_size)
    return [CheckpointOut(**checkpoints.checkpoint_view(c)) for c in rows]


@router.post("/v1/audit/checkpoints", status_code=201, response_model=CheckpointOut,
             summary="Sign a checkpoint over every entry now (the latest one back if nothing was added)")
def create_checkpoint(principal: AdminClient, session: DbSession, idem: Idempotency, keys: Keys) -> Response:
    return idem.run(
        session, principal,
        lambda: CheckpointOut(**checkpoints.checkpoint_view(checkpoints.create_checkpoint(session, keys))),
        status_code=201,
    )


@router.get("/v1/audit/proofs/{seq}", response_model=InclusionProofOut,
            summary="Inclusion proof of one audit entry against the latest (or a given) signed checkpoint")
def inclusion_proof(
    seq: int, principal: AdminClient, session: DbSession,
    checkpoint: Annotated[int | None, Query(ge=0, description="tree size of the checkpoint; default latest")]
    = None,
) -> InclusionProofOut:
    return InclusionProofOut(**checkpoints.inclusion_proof(session, seq, checkpoint_size=checkpoint))


@router.get("/v1/audit/consistency", response_model=ConsistencyProofOut,
            summary="Consistency proof: checkpoint `to` (default latest) extends checkpoint `from`")
def consistency_proof(
    principal: ConsistencyReader, session: DbSession,
    from_size: Annotated[int, Query(alias="from", ge=0, description="tree size of the earlier checkpoint")],
    to_size: Annotated[int | None, Query(alias="to", ge=0, description="tree size of the later one")] = None,
) -> ConsistencyProofOut:
    return ConsistencyProofOut(**checkpoints.consistency_proof(session, from_size, to_size))
