"""Signed decision reports for the partner banks: build, sign and verify (pure: no session, no HTTP).

A report is a compact JWS (typ ``decision-report+jws``, Ed25519, ``alg`` ``EdDSA``; see
``compliance.signing``) whose payload is the RFC 8785 canonical JSON of::

    {
      "report_version": 1,
      "issued_at": "2026-11-25T09:30:00.000000Z",
      "decision": {... the decision as plain data: ids, amounts as strings, grade, pd, score, limit,
                   reasons, contributions, model and rule-set versions with their hashes ...},
      "decision_sha256": "<hex SHA-256 of the JCS of decision>",
      "audit": {
        "seq": 42,                      # the audit entry that recorded the decision
        "entry_hash": "<hex>",
        "entry": {... every column of that entry, so its hash can be recomputed ...},
        "leaf_hash": "<hex SHA-256(0x00 ‖ entry_hash bytes)>",
        "inclusion_proof": {"leaf_index": 41, "tree_size": 50, "path": ["<hex>", ...]},
        "checkpoint": {"tree_size": 50, "root_hash": "<hex>", "timestamp": 1764063000000,
                       "kid": "...", "jws": "<compact JWS of the tree head, typ tree-head+jws>"}
      }
    }

What a bank checks, all against the JWKS only (``verify_decision_report`` does every step):

1. the report's signature (a key of the JWKS; retired keys stay there, so old reports still verify);
2. ``decision_sha256`` is the hash of ``decision``;
3. the checkpoint's own signature, and that it says what the report quotes (size, root);
4. ``leaf_hash`` is the leaf of ``entry_hash``, and the inclusion path leads from it to the signed root;
5. ``entry`` (required) hashes to ``entry_hash`` (the audit chain's rule) and its payload's
   ``decision_sha256`` equals the report's, binding the decision to that exact audit entry. A report without
   ``entry``, or pointing at an entry that records no or another decision, is refused: otherwise a holder
   of the signing key could re-issue a rewritten decision "proven" by any unrelated entry of the log.

The decision core puts ``decision_digest(decision)`` into the audit payload of the decision under
``decision_sha256`` so that step 5 binds; ``build_report_payload`` does not check it, the verifier does.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compliance import audit, merkle, signing
from compliance.keys import KeyProvider

REPORT_VERSION = 1
ENTRY_FIELDS = audit.ENTRY_COLUMNS


class ReportInvalid(signing.SignatureInvalid):
    """A report whose signature verifies but whose content does not hold together. ``code`` says which
    check failed: ``malformed_report``, ``decision_digest_mismatch``, ``checkpoint_invalid``,
    ``inclusion_proof_invalid``, ``entry_hash_mismatch``."""

    title = "Report invalid"
    default_code = "malformed_report"


def plain(value: Any) -> Any:
    """Decimals as strings, datetimes as RFC 3339 UTC: what JCS can serialise exactly."""
    return json.loads(audit.canonical_json(value))


def decision_digest(decision: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the JCS form of the decision (after ``plain``)."""
    return hashlib.sha256(signing.canonical_json(plain(dict(decision)))).hexdigest()


def _hex(value: bytes | str) -> str:
    return value.hex() if isinstance(value, bytes | bytearray) else str(value)


def build_report_payload(
    decision: Mapping[str, Any],
    *,
    seq: int,
    entry_hash: str,
    inclusion_proof: Sequence[bytes | str],
    checkpoint: Mapping[str, Any],
    issued_at: datetime,
    entry: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report payload from plain decision data, the decision's audit entry (``seq``, ``entry_hash``,
    every column as ``entry``: verifiers require it), its inclusion proof (as from ``GET /v1/audit/proofs/{seq}``:
    ``proof``) and the signed checkpoint it is proven against (``tree_size``, ``root_hash``,
    ``timestamp``, ``kid``, ``jws``)."""
    decision_plain = plain(dict(decision))
    audit_part: dict[str, Any] = {
        "seq": seq,
        "entry_hash": entry_hash,
        "leaf_hash": merkle.leaf_hash(bytes.fromhex(entry_hash)).hex(),
        "inclusion_proof": {"leaf_index": seq - 1, "tree_size": checkpoint["tree_size"],
                            "path": [_hex(node) for node in inclusion_proof]},
        "checkpoint": {k: checkpoint[k] for k in ("tree_size", "root_hash", "timestamp", "kid", "jws")},
    }
    if entry is not None:
        audit_part["entry"] = plain({k: entry[k] for k in ENTRY_FIELDS})
    return {
        "report_version": REPORT_VERSION,
        "issued_at": plain(issued_at),
        "decision": decision_plain,
        "decision_sha256": decision_digest(decision_plain),
        "audit": audit_part,
    }


def sign_decision_report(payload: Mapping[str, Any], keys: KeyProvider) -> str:
    """The compact JWS served as ``application/jose``."""
    return signing.sign_report(dict(payload), keys)


@dataclass(frozen=True)
class VerifiedReport:
    payload: dict[str, Any]
    kid: str
    alg: str
    checks: tuple[str, ...]

    @property
    def decision(self) -> dict[str, Any]:
        return self.payload["decision"]


def _fail(code: str, detail: str) -> ReportInvalid:
    return ReportInvalid(f"report: {detail}", field="report", code=code)


def _bytes(hex_text: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(hex_text)
    except (TypeError, ValueError):
        raise _fail("malformed_report", f"{what} is not hex") from None
    if len(raw) != merkle.HASH_SIZE:
        raise _fail("malformed_report", f"{what} is not a 32-byte hash")
    return raw


def verify_decision_report(jws: str, jwks: Mapping[str, Any]) -> VerifiedReport:
    """Every check a bank makes (module docstring); raises ``SignatureInvalid``/``ReportInvalid``."""
    payload = signing.verify_report(jws, dict(jwks))
    header = signing.read_header(jws)
    checks = ["signature"]
    try:
        if payload["report_version"] != REPORT_VERSION:
            raise _fail("malformed_report", f"unsupported report_version {payload['report_version']!r}")
        decision, audit_part = payload["decision"], payload["audit"]
        proof, head_claim = audit_part["inclusion_proof"], audit_part["checkpoint"]
        seq, entry_hash = audit_part["seq"], audit_part["entry_hash"]
    except (KeyError, TypeError):
        raise _fail("malformed_report", "missing decision, audit, inclusion_proof or checkpoint") from None

    if payload.get("decision_sha256") != decision_digest(decision):
        raise _fail("decision_digest_mismatch", "decision_sha256 is not the hash of the decision")
    checks.append("decision_digest")

    try:
        head = merkle.verify_tree_head(head_claim["jws"], jwks)
    except (signing.SignatureInvalid, KeyError, TypeError) as exc:
        raise _fail("checkpoint_invalid", f"the checkpoint's signature does not verify ({exc})") from None
    if (head.size, head.root_hash.hex()) != (head_claim.get("tree_size"), head_claim.get("root_hash")) or (
        proof.get("tree_size") != head.size
    ):
        raise _fail("checkpoint_invalid", "the quoted tree size or root differs from the signed checkpoint")
    checks.append("checkpoint_signature")

    leaf = merkle.leaf_hash(_bytes(entry_hash, "entry_hash"))
    if audit_part.get("leaf_hash") != leaf.hex():
        raise _fail("inclusion_proof_invalid", "leaf_hash is not SHA-256(0x00 ‖ entry_hash)")
    path = [_bytes(node, "inclusion path node") for node in proof.get("path", [])]
    if type(seq) is not int or proof.get("leaf_index") != seq - 1 or not merkle.verify_inclusion(
        leaf, seq - 1, head.size, path, head.root_hash
    ):
        raise _fail("inclusion_proof_invalid", f"audit entry {seq} is not proven to be in the signed tree")
    checks.append("inclusion_proof")

    if "entry" not in audit_part:  # without it nothing ties the decision to the audited entry
        raise _fail("malformed_report", "audit.entry is missing: the decision is not bound to the audit trail")
    _check_entry(audit_part["entry"], seq, entry_hash, payload["decision_sha256"])
    checks.append("audit_entry")
    return VerifiedReport(payload, str(header.get("kid")), str(header.get("alg")), tuple(checks))


def _check_entry(entry: Any, seq: int, entry_hash: str, digest: str) -> None:
    try:
        recomputed = audit.entry_hash(
            seq=entry["seq"], recorded_at=datetime.fromisoformat(entry["recorded_at"].replace("Z", "+00:00")),
            actor=entry["actor"], action=entry["action"], subject_type=entry["subject_type"],
            subject_id=entry["subject_id"], payload=entry["payload"], prev_hash=entry["prev_hash"],
        )
        entry_payload = json.loads(entry["payload"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _fail("malformed_report", "audit.entry lacks a column or holds a malformed one") from None
    if entry["seq"] != seq or entry.get("entry_hash") != entry_hash or recomputed != entry_hash:
        raise _fail("entry_hash_mismatch", "the quoted audit entry does not hash to entry_hash")
    bound = entry_payload.get("decision_sha256") if isinstance(entry_payload, dict) else None
    if bound != digest:  # an entry recording no decision binds none: the report could point anywhere
        raise _fail("decision_digest_mismatch", "the audit entry does not record this decision")


# --- issuing (the service behind GET /v1/decisions/{id}/report) -------------------------------------


def issue_report(session: Any, keys: KeyProvider, decision_id: str, principal: Any, *,
                 bank_id: str | None, path: str | None = None) -> str:
    """Sign the report of one decision for ``principal`` (a bank sees only its own: another bank's or an
    unknown id is not found). Every pull, refused or not, is written to the access log; when the decision
    is not yet covered by a signed checkpoint, one is made now. Flushes; the caller commits."""
    from compliance import access_log, checkpoints
    from compliance.models import AuditEntry
    from risk_engine.db import utcnow
    from risk_engine.decisions import service as decisions
    from risk_engine.errors import NotFound

    try:
        decision = decisions.get_decision(session, decision_id, bank_id=bank_id)
    except NotFound:
        access_log.log_access(session, principal, "decision.report.read", "decision", decision_id,
                              outcome="not_found", path=path)
        raise
    latest = checkpoints.latest_checkpoint(session)
    if latest is None or latest.tree_size < decision.audit_seq:
        checkpoints.create_checkpoint(session, keys)
    proof = checkpoints.inclusion_proof(session, decision.audit_seq)
    entry = session.get(AuditEntry, decision.audit_seq)
    payload = build_report_payload(
        decisions.decision_document(decision), seq=entry.seq, entry_hash=entry.entry_hash,
        inclusion_proof=proof["proof"], checkpoint=proof["checkpoint"], issued_at=utcnow(),
        entry={k: getattr(entry, k) for k in ENTRY_FIELDS},
    )
    jws = sign_decision_report(payload, keys)
    access_log.log_access(session, principal, "decision.report.read", "decision", decision.id,
                          detail={"kid": signing.read_header(jws)["kid"], "audit_seq": entry.seq}, path=path)
    return jws
