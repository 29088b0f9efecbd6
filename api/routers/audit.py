"""HTTP for the audit trail's signed checkpoints and proofs, and the public signing keys (JWKS)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from api.auth import AdminClient, Authenticator, Principal
from api.deps import DbSession, Keys
from api.idempotency import Idempotency
from compliance import checkpoints
from compliance.keys import JWKS_MAX_AGE
from compliance.schemas import CheckpointOut, ConsistencyProofOut, InclusionProofOut
from risk_engine.decisions import service as decisions
from risk_engine.errors import NotFound

router = APIRouter(tags=["audit"])
# Hashes and signed tree heads only, no tenant data: a bank holding checkpoints from its reports checks that
# the log it was shown earlier is a prefix of today's (docs/compliance.md §2); and proofs of its own entries.
ConsistencyReader = Annotated[Principal, Depends(Authenticator("bank", "admin"))]
BIGINT_MAX = 2**63 - 1  # sequence numbers and tree sizes are 64-bit columns: anything larger is a 422, not a 500


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
    before_size: Annotated[int | None, Query(ge=0, le=BIGINT_MAX, description="page: checkpoints smaller than this")]
    = None,
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
            summary="Inclusion proof of one audit entry against the latest (or a given) signed checkpoint",
            description="Admins: any entry. A bank: the entries of its own decisions and of the resolutions of "
            "its review cases (`GET /v1/reviews/resolutions`); other entries answer 404. For a bank the latest "
            "checkpoint is extended first when it does not cover the entry yet, as for a decision report.")
def inclusion_proof(
    seq: Annotated[int, Path(ge=1, le=BIGINT_MAX)], principal: ConsistencyReader, session: DbSession, keys: Keys,
    checkpoint: Annotated[int | None, Query(ge=0, le=BIGINT_MAX,
                                            description="tree size of the checkpoint; default latest")] = None,
) -> InclusionProofOut:
    if principal.role == "bank":
        if not decisions.audit_entry_of_bank(session, seq, principal.bank_id):
            raise NotFound(f"no audit entry {seq} of your bank", field="seq", code="no_audit_entry")
        if checkpoint is None and not checkpoints.covers(session, seq):
            checkpoints.create_checkpoint(session, keys)
            session.commit()
    return InclusionProofOut(**checkpoints.inclusion_proof(session, seq, checkpoint_size=checkpoint))


@router.get("/v1/audit/consistency", response_model=ConsistencyProofOut,
            summary="Consistency proof: checkpoint `to` (default latest) extends checkpoint `from`")
def consistency_proof(
    principal: ConsistencyReader, session: DbSession,
    from_size: Annotated[int, Query(alias="from", ge=0, le=BIGINT_MAX,
                                    description="tree size of the earlier checkpoint")],
    to_size: Annotated[int | None, Query(alias="to", ge=0, le=BIGINT_MAX,
                                         description="tree size of the later one")] = None,
) -> ConsistencyProofOut:
    return ConsistencyProofOut(**checkpoints.consistency_proof(session, from_size, to_size))
