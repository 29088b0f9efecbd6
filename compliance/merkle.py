"""RFC 9162 (Certificate Transparency 2.0) Merkle tree over the audit trail.

Hashing (§2.1.1): leaf = SHA-256(0x00 ‖ leaf), node = SHA-256(0x01 ‖ left ‖ right); a tree of n leaves
splits at k, the largest power of two smaller than n, and the empty tree hashes to SHA-256("").
Inclusion proofs follow §2.1.3, consistency proofs §2.1.4; both verifiers are the RFC's algorithms.

``MerkleTree`` keeps the hash of every complete, aligned power-of-two subtree (one packed ``bytearray``
per level, 32 bytes a node, about 64 bytes a leaf in all), so appending is amortised O(1) and the root of
any prefix, an inclusion proof or a consistency proof costs O(log n) hashes. A million leaves take about
64 MB and a couple of seconds to load.

A signed tree head is a ``TreeHead`` serialised with JCS (RFC 8785) and signed as a compact JWS by
``compliance.signing`` with the current Ed25519 key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from compliance import signing
from compliance.keys import KeyProvider
from risk_engine.errors import InvalidInput

HASH_SIZE = 32
EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()
TREE_HEAD_TYPE = "tree-head+jws"


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 ‖ leaf): the hash the tree stores for one entry."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition: the reference the fast tree is tested by."""
    if not leaves:
        return EMPTY_TREE_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split_point(len(leaves))
    return node_hash(merkle_tree_hash(leaves[:k]), merkle_tree_hash(leaves[k:]))


class MerkleTree:
    """An append-only RFC 9162 tree; proofs and roots for any earlier size stay available."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaves)

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> MerkleTree:
        """Rebuild from stored leaf hashes (each already SHA-256(0x00 ‖ leaf))."""
        tree = cls()
        tree.extend_leaf_hashes(hashes)
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, leaf: bytes) -> int:
        """Add one entry; returns its 0-based leaf index."""
        return self.append_leaf_hash(leaf_hash(leaf))

    def append_leaf_hash(self, hashed: bytes) -> int:
        index = self.size
        self.extend_leaf_hashes([hashed])
        return index

    def extend(self, leaves: Iterable[bytes]) -> None:
        self.extend_leaf_hashes(leaf_hash(leaf) for leaf in leaves)

    def extend_leaf_hashes(self, hashes: Iterable[bytes]) -> None:
        """Add many leaf hashes, then complete every parent they make whole, level by level."""
        batch = bytearray()
        for hashed in hashes:
            if not isinstance(hashed, bytes | bytearray) or len(hashed) != HASH_SIZE:
                raise InvalidInput(f"leaf_hash: must be {HASH_SIZE} bytes", field="leaf_hash")
            batch += hashed
        self._levels[0] += batch  # all or nothing: a bad hash leaves the tree as it was
        sha256, level = hashlib.sha256, 0
        while len(self._levels[level]) >= 2 * HASH_SIZE:
            if level + 1 == len(self._levels):
                self._levels.append(bytearray())
            children, parents = self._levels[level], self._levels[level + 1]
            first, last = len(parents) // HASH_SIZE, len(children) // (2 * HASH_SIZE)
            parents += b"".join(
                sha256(b"\x01" + children[2 * HASH_SIZE * j : 2 * HASH_SIZE * (j + 1)]).digest()
                for j in range(first, last)
            )
            level += 1

    def leaf_hash_at(self, index: int) -> bytes:
        self._check_index(index, self.size)
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        size = self._resolve_size(size)
        return self._subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, ordered from the leaf up."""
        size = self._resolve_size(size)
        self._check_index(index, size)
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1; empty when old_size is 0 or new_size."""
        new_size = self._resolve_size(new_size)
        if not 0 <= old_size <= new_size:
            raise InvalidInput(
                f"old_size: must be between 0 and {new_size}, got {old_size}",
                field="old_size",
                code="out_of_range",
            )
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, complete=True)

    def tree_head(self, *, timestamp: int, size: int | None = None) -> TreeHead:
        size = self._resolve_size(size)
        return TreeHead(size=size, root_hash=self.root(size), timestamp=timestamp)

    # --- internals -------------------------------------------------------------------------------

    def _resolve_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise InvalidInput(
                f"size: must be between 0 and {self.size}, got {size}", field="size", code="out_of_range"
            )
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise InvalidInput(
                f"index: must be between 0 and {size - 1}, got {index}", field="index", code="out_of_range"
            )

    def _subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]); every split the RFC makes lands on a stored aligned power-of-two subtree."""
        width = end - start
        if width == 0:
            return EMPTY_TREE_ROOT
        if width & (width - 1) == 0 and start % width == 0:
            level = width.bit_length() - 1
            offset = (start >> level) * HASH_SIZE
            return bytes(self._levels[level][offset : offset + HASH_SIZE])
        k = _split_point(width)
        return node_hash(self._subtree_hash(start, start + k), self._subtree_hash(start + k, end))

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        width = end - start
        if width == 1:
            return []
        k = _split_point(width)
        if index < k:
            return self._path(index, start, start + k) + [self._subtree_hash(start + k, end)]
        return self._path(index - k, start + k, end) + [self._subtree_hash(start, start + k)]

    def _subproof(self, old_size: int, start: int, end: int, *, complete: bool) -> list[bytes]:
        width = end - start
        if old_size == width:
            return [] if complete else [self._subtree_hash(start, end)]
        k = _split_point(width)
        if old_size <= k:
            return self._subproof(old_size, start, start + k, complete=complete) + [
                self._subtree_hash(start + k, end)
            ]
        return self._subproof(old_size - k, start + k, end, complete=False) + [
            self._subtree_hash(start, start + k)
        ]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------------------------


def _all_hashes(values: Iterable[bytes]) -> bool:
    return all(isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE for value in values)


def verify_inclusion(
    hashed_leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """True when ``proof`` puts the leaf hash at ``index`` in the tree of ``tree_size`` and ``root_hash``."""
    if not (0 <= index < tree_size) or not _all_hashes([hashed_leaf, root_hash, *proof]):
        return False
    fn, sn, r = index, tree_size - 1, bytes(hashed_leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
    if not 0 <= old_size <= new_size or not _all_hashes([old_root, new_root, *proof]):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- signed tree heads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeHead:
    """The root of the first ``size`` leaves at ``timestamp`` (milliseconds since the Unix epoch, UTC)."""

    size: int
    root_hash: bytes
    timestamp: int

    def __post_init__(self) -> None:
        if (
            self.size < 0
            or self.timestamp < 0
            or not (isinstance(self.root_hash, bytes) and len(self.root_hash) == HASH_SIZE)
        ):
            raise InvalidInput(
                "tree_head: needs size >= 0, a 32-byte root hash and a timestamp >= 0", field="tree_head"
            )

    @classmethod
    def at(cls, size: int, root_hash: bytes, when: datetime) -> TreeHead:
        return cls(size=size, root_hash=root_hash, timestamp=int(when.timestamp() * 1000))

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)

    def to_dict(self) -> dict[str, Any]:
        return {"tree_size": self.size, "root_hash": self.root_hash.hex(), "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> TreeHead:
        try:
            size, root_hex, timestamp = value["tree_size"], value["root_hash"], value["timestamp"]
            if not (type(size) is int and type(timestamp) is int and isinstance(root_hex, str)):
                raise TypeError
            return cls(size=size, root_hash=bytes.fromhex(root_hex), timestamp=timestamp)
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                "tree_head: needs integer tree_size and timestamp and a hex root_hash", field="tree_head"
            ) from None

    def canonical_bytes(self) -> bytes:
        """The JCS serialisation, e.g. ``{"root_hash":"…","timestamp":1700000000000,"tree_size":3}``."""
        return signing.canonical_json(self.to_dict())


def sign_tree_head(head: TreeHead, key_provider: KeyProvider) -> str:
    """A compact JWS (typ ``tree-head+jws``) whose payload is ``head.canonical_bytes()``."""
    return signing.sign_payload(head.to_dict(), key_provider, typ=TREE_HEAD_TYPE)


def verify_tree_head(jws: str, jwks: Mapping[str, Any]) -> TreeHead:
    """The tree head a valid signature vouches for; raises ``signing.SignatureInvalid`` otherwise."""
    return TreeHead.from_dict(signing.verify_payload(jws, jwks, typ=TREE_HEAD_TYPE))
