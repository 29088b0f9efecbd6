"""Signed checkpoints over the audit trail: an RFC 9162 Merkle tree whose leaves are the entries.

Leaf ``i`` (0-based) is ``bytes.fromhex(entry_hash)`` of audit entry ``seq = i + 1``, so the tree commits
to the chain, and the chain to every column of every entry. A checkpoint is a signed tree head: the
root of the first ``tree_size`` leaves, a timestamp, signed as a compact JWS with the current Ed25519 key.

Why both a chain and a tree. The chain alone names the first changed, deleted, inserted or reordered
entry, but it cannot see a rewritten LAST entry (rehashed) or a truncated tail: what remains is still a
valid chain. A checkpoint pins the root at its size, so either shows as a root that no longer matches a
signature nobody here can forge. The tree also gives a bank short proofs: that one entry is in the
signed log (inclusion) and that a later checkpoint extends an earlier one (consistency).

Checkpoint creation is not itself an audit entry: it changes no business state, it is self-authenticating
(its signature), and auditing it would grow the tree on every checkpoint so a quiet log never settles.
A new checkpoint is only signed over a tree that still matches the previous checkpoint, so a tampered
trail can never be re-blessed by signing.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import audit, merkle, signing
from compliance.keys import KeyProvider
from compliance.models import AuditCheckpoint, AuditEntry
from risk_engine.db import Database, utcnow
from risk_engine.errors import Conflict, DomainError, NotFound

_BATCH = 10_000


class AuditTrailMismatch(DomainError):
    """The stored audit trail no longer matches a signed checkpoint: an integrity incident."""

    status = 500
    title = "Audit trail does not match its signed checkpoint"
    default_code = "audit_trail_mismatch"


# --- the tree ------------------------------------------------------------------------------------


def leaf_input(entry_hash: str) -> bytes:
    """The leaf the tree stores for one audit entry: the 32 bytes of its entry hash."""
    try:
        raw = bytes.fromhex(entry_hash)
    except (TypeError, ValueError):
        raw = b""
    if len(raw) != merkle.HASH_SIZE:
        raise AuditTrailMismatch(f"an audit entry hash is not 64 hex characters: {entry_hash!r:.80}")
    return raw


def _entry_hashes(session: Session, limit: int | None = None) -> Iterator[str]:
    last, remaining = 0, limit
    while remaining is None or remaining > 0:
        batch = _BATCH if remaining is None else min(_BATCH, remaining)
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row.entry_hash
        last = rows[-1].seq
        if remaining is not None:
            remaining -= len(rows)


def build_tree(session: Session, size: int | None = None) -> merkle.MerkleTree:
    """The tree over the stored entries in seq order (the first ``size`` of them, or all)."""
    tree = merkle.MerkleTree()
    tree.extend(leaf_input(h) for h in _entry_hashes(session, size))
    return tree


# --- checkpoints ---------------------------------------------------------------------------------


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    statement = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
    return session.scalars(statement).first()


def checkpoint_at(session: Session, tree_size: int) -> AuditCheckpoint:
    statement = select(AuditCheckpoint).where(AuditCheckpoint.tree_size == tree_size)
    checkpoint = session.scalars(statement).first()
    if checkpoint is None:
        raise NotFound(f"no checkpoint of tree size {tree_size}", field="checkpoint", code="no_checkpoint")
    return checkpoint


def require_latest(session: Session) -> AuditCheckpoint:
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise NotFound("no checkpoint has been signed yet: POST /v1/audit/checkpoints", code="no_checkpoint")
    return checkpoint


def list_checkpoints(
    session: Session, *, limit: int = 100, before_size: int | None = None
) -> list[AuditCheckpoint]:
    """Newest first."""
    statement = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(limit)
    if before_size is not None:
        statement = statement.where(AuditCheckpoint.tree_size < before_size)
    return list(session.scalars(statement))


def _check_extends(tree: merkle.MerkleTree, previous: AuditCheckpoint | None) -> None:
    if previous is None:
        return
    if previous.tree_size > tree.size:
        raise AuditTrailMismatch(
            f"checkpoint {previous.tree_size} covers {previous.tree_size} entries but only {tree.size} remain"
        )
    if tree.root(previous.tree_size).hex() != previous.root_hash:
        raise AuditTrailMismatch(
            f"the first {previous.tree_size} entries no longer match checkpoint {previous.tree_size}; "
            "run `risk-engine audit verify`"
        )


def _check_new_entries(session: Session, covered: int) -> None:
    """The entries after the previous checkpoint form a valid chain from its last entry: whatever a new
    checkpoint signs was well formed when signed (what came before is pinned by the previous root)."""
    prev_hash = audit.GENESIS_HASH if covered == 0 else session.scalar(
        select(AuditEntry.entry_hash).where(AuditEntry.seq == covered))
    chain = audit.verify_entries(audit.iter_chain(session, after=covered), first_seq=covered + 1,
                                 prev_hash=prev_hash or "")
    if chain.problem is not None:
        raise AuditTrailMismatch(f"refusing to sign: {chain.problem}; run `risk-engine audit verify`")


def create_checkpoint(session: Session, keys: KeyProvider, *, at: datetime | None = None) -> AuditCheckpoint:
    """Sign the tree head of every entry committed so far (flushes; the caller commits).

    Returns the latest checkpoint unchanged when no entry was added since. Refuses (``AuditTrailMismatch``)
    to sign over a trail that does not extend the previous checkpoint.
    """
    audit.lock_chain(session)  # no entry appended between reading the tree and signing its head
    tree = build_tree(session)
    previous = latest_checkpoint(session)
    _check_extends(tree, previous)
    if previous is not None and previous.tree_size == tree.size:
        return previous
    _check_new_entries(session, previous.tree_size if previous else 0)
    head = merkle.TreeHead.at(tree.size, tree.root(), at or utcnow())
    jws = merkle.sign_tree_head(head, keys)
    checkpoint = AuditCheckpoint(
        tree_size=head.size,
        root_hash=head.root_hash.hex(),
        timestamp_ms=head.timestamp,
        issued_at=head.issued_at,
        kid=signing.read_header(jws)["kid"],
        jws=jws,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_now(database: Database, keys: KeyProvider) -> AuditCheckpoint:
    """For the scheduler: its own unit of work; a no-op (the latest one back) when nothing was added."""
    with database.unit_of_work() as session:
        return create_checkpoint(session, keys)


def checkpoint_view(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "timestamp": checkpoint.timestamp_ms,
        "issued_at": checkpoint.issued_at,
        "kid": checkpoint.kid,
        "jws": checkpoint.jws,
    }


# --- proofs ---------------------------------------------------------------------------------------


def _tree_matching(session: Session, checkpoint: AuditCheckpoint) -> merkle.MerkleTree:
    tree = build_tree(session, checkpoint.tree_size)
    if tree.size != checkpoint.tree_size or tree.root().hex() != checkpoint.root_hash:
        raise AuditTrailMismatch(
            f"the stored entries no longer match checkpoint {checkpoint.tree_size}; "
            "run `risk-engine audit verify`"
        )
    return tree


def covers(session: Session, seq: int) -> bool:
    """Whether the latest signed checkpoint covers audit entry ``seq``."""
    latest = latest_checkpoint(session)
    return latest is not None and latest.tree_size >= seq


def inclusion_proof(session: Session, seq: int, *, checkpoint_size: int | None = None) -> dict[str, Any]:
    """Proof that audit entry ``seq`` is leaf ``seq - 1`` of the tree a signed checkpoint vouches for."""
    entry = session.get(AuditEntry, seq)
    if entry is None:
        raise NotFound(f"no audit entry {seq}", field="seq", code="no_audit_entry")
    if checkpoint_size is None:
        checkpoint = require_latest(session)
    else:
        checkpoint = checkpoint_at(session, checkpoint_size)
    if seq > checkpoint.tree_size:
        raise Conflict(
            f"audit entry {seq} is not covered by checkpoint {checkpoint.tree_size} yet: ask without "
            "?checkpoint= for the latest (extended for a bank's own entries), then a consistency proof from "
            f"checkpoint {checkpoint.tree_size}",
            field="seq",
            code="not_yet_checkpointed",
        )
    tree = _tree_matching(session, checkpoint)
    index = seq - 1
    return {
        "seq": seq,
        "leaf_index": index,
        "entry_hash": entry.entry_hash,
        "leaf_hash": tree.leaf_hash_at(index).hex(),
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "proof": [node.hex() for node in tree.inclusion_proof(index)],
        "checkpoint": checkpoint_view(checkpoint),
    }


def consistency_proof(session: Session, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """Proof that checkpoint ``new_size`` (default: the latest) extends checkpoint ``old_size``."""
    new = require_latest(session) if new_size is None else checkpoint_at(session, new_size)
    old = checkpoint_at(session, old_size)
    if old.tree_size > new.tree_size:
        raise Conflict(
            f"from ({old.tree_size}) must not be larger than to ({new.tree_size})",
            field="from", code="out_of_range",
        )
    tree = _tree_matching(session, new)
    return {
        "old": checkpoint_view(old),
        "new": checkpoint_view(new),
        "proof": [node.hex() for node in tree.consistency_proof(old.tree_size)],
    }


# --- verification of the whole trail --------------------------------------------------------------


@dataclass(frozen=True)
class TrailProblem:
    reason: str
    seq: int | None = None  # the first bad entry, when one can be named
    checkpoint: int | None = None  # the tree size of the checkpoint that exposed it

    def __str__(self) -> str:
        where = f"audit entry {self.seq}" if self.seq is not None else f"checkpoint {self.checkpoint}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class TrailReport:
    entries: int
    head_hash: str
    root_hash: str
    checkpoints: int
    problem: TrailProblem | None
    # signed with a key since revoked (compromised): they vouch for nothing, and are not tampering either
    untrusted_checkpoints: tuple[int, ...] = ()

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_trail(session: Session, jwks: Mapping[str, Any]) -> TrailReport:
    """Recompute the chain and the tree, check every checkpoint's signature and that its root matches the
    tree at its size. Names the first bad entry where one can be named.

    When the chain breaks at entry ``p``, the checkpoints over the intact entries before ``p`` are still
    checked: a rewrite they expose lies earlier, and a later broken link must not hide it."""
    hashes: list[str] = []

    def collect(rows: Iterator[Any]) -> Iterator[Any]:
        for row in rows:
            hashes.append(row.entry_hash)
            yield row

    chain = audit.verify_entries(collect(audit.iter_chain(session)))
    every = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))
    revoked = {r.get("kid") for r in jwks.get("revoked") or [] if isinstance(r, Mapping)}
    checkpoints = [c for c in every if c.kid not in revoked]
    untrusted = tuple(c.tree_size for c in every if c.kid in revoked)
    tree = merkle.MerkleTree(leaf_input(h) for h in hashes[: chain.entries])
    if chain.problem is not None:
        covered = [c for c in checkpoints if c.tree_size <= tree.size]
        earlier = _first_checkpoint_problem(covered, tree, jwks)
        problem = TrailProblem(chain.problem.reason, seq=chain.problem.seq)
        if earlier is not None and earlier.seq is not None and earlier.seq < chain.problem.seq:
            problem = earlier
        return TrailReport(chain.entries, chain.head_hash, "", len(checkpoints), problem, untrusted)
    return TrailReport(chain.entries, chain.head_hash, tree.root().hex(), len(checkpoints),
                       _first_checkpoint_problem(checkpoints, tree, jwks), untrusted)


def _first_checkpoint_problem(
    checkpoints: list[AuditCheckpoint], tree: merkle.MerkleTree, jwks: Mapping[str, Any]
) -> TrailProblem | None:
    """The first checkpoint (smallest first) whose signature, columns or root disagree with ``tree``."""
    verified_size = 0
    for checkpoint in checkpoints:
        size = checkpoint.tree_size
        try:
            head = merkle.verify_tree_head(checkpoint.jws, jwks)
            kid = signing.read_header(checkpoint.jws)["kid"]
        except signing.SignatureInvalid as exc:
            return TrailProblem(f"signature does not verify ({exc.code}): {exc.detail}", checkpoint=size)
        if (head.size, head.root_hash.hex(), head.timestamp, kid) != (
            size, checkpoint.root_hash, checkpoint.timestamp_ms, checkpoint.kid
        ):
            return TrailProblem("the stored columns differ from what its JWS signs", checkpoint=size)
        if size > tree.size:
            return TrailProblem(
                f"checkpoint {size} signed {size} entries but only {tree.size} remain: entries "
                f"{tree.size + 1}..{size} were deleted (truncated tail)",
                seq=tree.size + 1, checkpoint=size,
            )
        if tree.root(size) != head.root_hash:
            return TrailProblem(
                f"entries 1..{size} do not match signed checkpoint {size}: an entry among "
                f"{verified_size + 1}..{size} was rewritten",
                seq=verified_size + 1, checkpoint=size,
            )
        verified_size = size
    return None
