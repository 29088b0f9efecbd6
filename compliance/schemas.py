"""Request and response bodies of the compliance domain: consents, personal data, export, erasure,
the access log and the audit checkpoints and proofs."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from risk_engine.db import utcnow
from risk_engine.schemas import RequestModel, ResponseModel, refuse

Purpose = Literal["credit_scoring", "data_sharing_with_bank", "loan_monitoring"]
Scope = Annotated[str, Field(min_length=1, max_length=2000,
                             description="what data, for which use, shared with whom",
                             examples=["trade and payment history on the platform, to rate the dealer "
                                       "and set its credit limit"])]
Evidence = Annotated[str, Field(min_length=1, max_length=256,
                                description="reference to the signed consent (document id, e-signature id)",
                                examples=["esign:2026-11-25:contract-8841"])]
CLOCK_SKEW = timedelta(minutes=5)


def _not_in_the_future(value: datetime) -> datetime:
    if value > utcnow() + CLOCK_SKEW:
        raise ValueError("a consent cannot be granted in the future")
    return value


class OnboardingConsentIn(RequestModel):
    """The consent a dealer gives at onboarding. ``credit_scoring`` is required (CONTRACT)."""

    purposes: Annotated[list[Purpose], Field(min_length=1, max_length=3)]
    scope: Scope
    evidence: Evidence
    granted_at: AwareDatetime
    expires_at: AwareDatetime | None = None

    @field_validator("purposes")
    @classmethod
    def _credit_scoring_and_unique(cls, value: list[str]) -> list[str]:
        if "credit_scoring" not in value:
            raise ValueError("consent for 'credit_scoring' is required to onboard a dealer")
        if len(set(value)) != len(value):
            raise ValueError("each purpose at most once")
        return value

    _granted = field_validator("granted_at")(_not_in_the_future)

    @model_validator(mode="after")
    def _expiry_after_grant(self) -> OnboardingConsentIn:
        if self.expires_at is not None and self.expires_at <= self.granted_at:
            refuse(self, "expires_at", "expires_at must be after granted_at")
        return self


class ConsentIn(RequestModel):
    purpose: Purpose
    scope: Scope
    evidence: Evidence
    granted_at: AwareDatetime
    expires_at: AwareDatetime | None = None

    _granted = field_validator("granted_at")(_not_in_the_future)

    @model_validator(mode="after")
    def _expiry_after_grant(self) -> ConsentIn:
        if self.expires_at is not None and self.expires_at <= self.granted_at:
            refuse(self, "expires_at", "expires_at must be after granted_at")
        return self


class ConsentRevocationIn(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    revoked_at: AwareDatetime | None = Field(default=None, description="default: now")

    _revoked = field_validator("revoked_at")(lambda v: v if v is None else _not_in_the_future(v))


class ConsentOut(ResponseModel):
    id: str
    dealer_id: str
    purpose: str
    scope: str
    evidence_ref: str
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    recorded_at: datetime
    status: str = Field(description="active, expired, revoked or pending (granted_at in the future)")


class LegalRepresentativeOut(ResponseModel):
    name: str | None
    id_number: str | None
    phone: str | None


class DealerPiiOut(ResponseModel):
    dealer_id: str
    legal_representative: LegalRepresentativeOut
    account_number: str | None
    erased_at: datetime | None


class ErasureIn(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000,
                                 examples=["data subject request ref. DSR-2026-0042"])]


class ErasureOut(ResponseModel):
    dealer_id: str
    erased_at: datetime
    pseudonym: str
    erased: list[str]
    retained: list[str]
    consents_revoked: list[str]


class AccessLogOut(ResponseModel):
    id: int
    accessed_at: datetime
    client_id: str
    role: str
    action: str
    subject_type: str
    subject_id: str
    outcome: str
    purpose: str | None
    path: str | None
    detail: dict[str, Any]


class AccessLogPage(ResponseModel):
    items: list[AccessLogOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last")


class CheckpointOut(ResponseModel):
    tree_size: int
    root_hash: str
    timestamp: int = Field(description="ms since the Unix epoch, as signed")
    issued_at: datetime
    kid: str
    jws: str = Field(description="compact JWS (typ tree-head+jws) over the JCS tree head")


class InclusionProofOut(ResponseModel):
    seq: int
    leaf_index: int
    entry_hash: str
    leaf_hash: str = Field(description="SHA-256(0x00 ‖ entry_hash bytes)")
    tree_size: int
    root_hash: str
    proof: list[str] = Field(description="RFC 9162 inclusion path, hex, from the leaf up")
    checkpoint: CheckpointOut


class ConsistencyProofOut(ResponseModel):
    old: CheckpointOut = Field(description="the earlier checkpoint (`from`)")
    new: CheckpointOut = Field(description="the later checkpoint (`to`)")
    proof: list[str] = Field(description="RFC 9162 consistency proof, hex")
