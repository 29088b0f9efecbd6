from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import signing
from compliance.merkle import (
    EMPTY_TREE_ROOT,
    MerkleTree,
    TreeHead,
    leaf_hash,
    merkle_tree_hash,
    sign_tree_head,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)
from risk_engine.errors import InvalidInput

# The Certificate Transparency test vectors (RFC 6962 reference implementation, unchanged by RFC 9162).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def hexes(proof: list[bytes]) -> list[str]:
    return [node.hex() for node in proof]


def distinct_leaves(max_size: int = 70) -> st.SearchStrategy[list[bytes]]:
    return st.lists(st.binary(max_size=6), min_size=1, max_size=max_size, unique=True)


def test_the_empty_tree_hashes_to_sha256_of_nothing():
    assert MerkleTree().root() == EMPTY_TREE_ROOT
    assert EMPTY_TREE_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(size):
    tree = MerkleTree(CT_LEAVES)
    assert tree.root(size).hex() == CT_ROOTS[size - 1]
    assert merkle_tree_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]


def test_inclusion_and_consistency_proofs_match_the_certificate_transparency_vectors():
    tree = MerkleTree(CT_LEAVES)
    assert hexes(tree.inclusion_proof(0, 8)) == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert tree.inclusion_proof(0, 1) == []
    assert hexes(tree.consistency_proof(6, 8)) == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert hexes(tree.consistency_proof(2, 5)) == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]


def test_every_prefix_root_of_the_fast_tree_equals_the_rfc_definition():
    leaves = [i.to_bytes(2, "big") for i in range(70)]
    tree = MerkleTree(leaves)
    for size in range(71):
        assert tree.root(size) == merkle_tree_hash(leaves[:size])


def test_appending_one_by_one_bulk_loading_and_loading_leaf_hashes_build_the_same_tree():
    leaves = [i.to_bytes(3, "big") for i in range(300)]
    one_by_one = MerkleTree()
    indexes = [one_by_one.append(leaf) for leaf in leaves]
    in_two_batches = MerkleTree(leaves[:77])
    in_two_batches.extend(leaves[77:])
    from_hashes = MerkleTree.from_leaf_hashes(leaf_hash(leaf) for leaf in leaves)
    assert indexes == list(range(300))
    assert one_by_one.root() == in_two_batches.root() == from_hashes.root() == merkle_tree_hash(leaves)
    assert from_hashes.leaf_hash_at(299) == leaf_hash(leaves[299])


@settings(max_examples=60, deadline=None)
@given(leaves=distinct_leaves(), data=st.data())
def test_an_inclusion_proof_verifies_only_for_its_own_leaf_index_and_root(leaves, data):
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    assert verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        assert not verify_inclusion(leaf_hash(leaves[other]), index, size, proof, root)
        assert not verify_inclusion(leaf_hash(leaves[index]), other, size, proof, root)
    assert not verify_inclusion(leaf_hash(leaves[index] + b"!"), index, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(leaves=distinct_leaves(), data=st.data())
def test_any_bit_flipped_in_an_inclusion_proof_fails_it(leaves, data):
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1), label="index")
    proof = tree.inclusion_proof(index)
    if not proof:
        return
    node = data.draw(st.integers(0, len(proof) - 1), label="node")
    bit = data.draw(st.integers(0, 255), label="bit")
    tampered = list(proof)
    tampered[node] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(proof[node]))
    assert not verify_inclusion(leaf_hash(leaves[index]), index, len(leaves), tampered, tree.root())
    assert not verify_inclusion(leaf_hash(leaves[index]), index, len(leaves), proof[:-1], tree.root())
    assert not verify_inclusion(leaf_hash(leaves[index]), index, len(leaves), [*proof, proof[0]], tree.root())


@settings(max_examples=60, deadline=None)
@given(leaves=distinct_leaves(), data=st.data())
def test_a_consistency_proof_shows_the_old_tree_is_a_prefix_of_the_new(leaves, data):
    tree = MerkleTree(leaves)
    new_size = data.draw(st.integers(1, len(leaves)), label="new_size")
    old_size = data.draw(st.integers(0, new_size), label="old_size")
    proof = tree.consistency_proof(old_size, new_size)
    old_root, new_root = tree.root(old_size), tree.root(new_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    if 0 < old_size < new_size:
        forked = MerkleTree([*leaves[: old_size - 1], leaves[old_size - 1] + b"!"]).root()
        assert not verify_consistency(old_size, new_size, forked, new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, tree.root(new_size - 1), proof)
        node = data.draw(st.integers(0, len(proof) - 1), label="node")
        tampered = list(proof)
        tampered[node] = bytes([proof[node][0] ^ 1]) + proof[node][1:]
        assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])


def test_consistency_between_equal_sizes_needs_equal_roots_and_an_empty_proof():
    tree = MerkleTree(CT_LEAVES)
    assert verify_consistency(5, 5, tree.root(5), tree.root(5), [])
    assert not verify_consistency(5, 5, tree.root(5), tree.root(4), [])
    assert not verify_consistency(5, 5, tree.root(5), tree.root(5), [tree.root(5)])
    assert not verify_consistency(6, 5, tree.root(6), tree.root(5), tree.consistency_proof(5, 6))


def test_proofs_for_an_earlier_size_stay_valid_after_the_tree_grows():
    tree = MerkleTree(CT_LEAVES[:5])
    old_root, old_proof = tree.root(), tree.inclusion_proof(3)
    tree.extend(CT_LEAVES[5:])
    assert tree.root(5) == old_root
    assert tree.inclusion_proof(3, 5) == old_proof
    assert verify_consistency(5, 8, old_root, tree.root(), tree.consistency_proof(5))


def test_proofs_on_a_hundred_thousand_leaves_verify():
    leaves = [i.to_bytes(4, "big") for i in range(100_000)]
    tree = MerkleTree(leaves)
    root = tree.root()
    for index in (0, 1, 65_535, 65_536, 99_999):
        proof = tree.inclusion_proof(index)
        assert len(proof) <= 17
        assert verify_inclusion(leaf_hash(leaves[index]), index, tree.size, proof, root)
    assert verify_consistency(65_537, 100_000, tree.root(65_537), root, tree.consistency_proof(65_537))


def test_out_of_range_requests_name_the_field():
    tree = MerkleTree(CT_LEAVES)
    with pytest.raises(InvalidInput) as index_error:
        tree.inclusion_proof(8)
    with pytest.raises(InvalidInput) as size_error:
        tree.root(9)
    with pytest.raises(InvalidInput) as old_size_error:
        tree.consistency_proof(6, 5)
    with pytest.raises(InvalidInput):
        tree.extend_leaf_hashes([leaf_hash(b"fine"), b"short"])
    assert tree.size == 8 and tree.root().hex() == CT_ROOTS[7]
    assert (index_error.value.field, size_error.value.field, old_size_error.value.field) == (
        "index",
        "size",
        "old_size",
    )


def test_verifiers_refuse_malformed_inputs_instead_of_raising():
    tree = MerkleTree(CT_LEAVES)
    root, hashed = tree.root(), leaf_hash(CT_LEAVES[0])
    assert not verify_inclusion(hashed, 0, 0, [], root)
    assert not verify_inclusion(hashed, -1, 8, tree.inclusion_proof(0), root)
    assert not verify_inclusion(hashed[:31], 0, 8, tree.inclusion_proof(0), root)
    assert not verify_consistency(3, 8, tree.root(3), root, [b"x" * 31])


def test_a_tree_head_serialises_canonically():
    head = TreeHead(size=3, root_hash=bytes.fromhex(CT_ROOTS[2]), timestamp=1_700_000_000_123)
    assert head.canonical_bytes() == (
        b'{"root_hash":"' + CT_ROOTS[2].encode() + b'","timestamp":1700000000123,"tree_size":3}'
    )
    assert TreeHead.from_dict(head.to_dict()) == head
    assert head.issued_at.isoformat() == "2023-11-14T22:13:20.123000+00:00"
    assert TreeHead.at(3, head.root_hash, head.issued_at) == head


def test_a_signed_tree_head_verifies_and_names_the_tree(shared_key_provider):
    tree = MerkleTree(CT_LEAVES)
    head = tree.tree_head(size=7, timestamp=1_700_000_000_000)
    jws = sign_tree_head(head, shared_key_provider)
    assert verify_tree_head(jws, shared_key_provider.public_jwks()) == head
    assert jws.split(".")[1] == signing._encode(head.canonical_bytes())


def test_a_signed_tree_head_cannot_pass_as_a_decision_report_nor_the_reverse(shared_key_provider):
    head = MerkleTree(CT_LEAVES).tree_head(timestamp=1)
    jwks = shared_key_provider.public_jwks()
    with pytest.raises(signing.SignatureInvalid) as as_report:
        signing.verify_report(sign_tree_head(head, shared_key_provider), jwks)
    with pytest.raises(signing.SignatureInvalid) as as_head:
        verify_tree_head(signing.sign_report(head.to_dict(), shared_key_provider), jwks)
    assert as_report.value.code == as_head.value.code == "wrong_type"
