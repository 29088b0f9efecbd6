from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc.jwk import KeySet, OKPKey

from compliance.keys import (
    BLIND_INDEX_KEY_FILE,
    DATA_KEYS_FILE,
    SIGNING_KEYS_FILE,
    FileKeyProvider,
    KeyProvider,
    UnknownKey,
    b64url_decode,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_provider_is_a_key_provider(key_provider):
    assert isinstance(key_provider, KeyProvider)


def test_nothing_is_written_until_a_key_is_first_needed(tmp_path):
    FileKeyProvider(tmp_path / "keys")
    assert not (tmp_path / "keys").exists()


def test_key_files_are_created_owner_only_on_first_use(key_provider):
    key_provider.current_signing_kid()
    key_provider.current_data_key()
    key_provider.blind_index_key()
    assert mode_of(key_provider.keys_dir) == 0o700
    for name in (SIGNING_KEYS_FILE, DATA_KEYS_FILE, BLIND_INDEX_KEY_FILE):
        assert mode_of(key_provider.keys_dir / name) == 0o600
    assert not list(key_provider.keys_dir.glob("*.tmp"))


def test_an_existing_loose_keys_directory_is_tightened(tmp_path):
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(mode=0o755)
    FileKeyProvider(keys_dir).current_signing_kid()
    assert mode_of(keys_dir) == 0o700


def test_the_signing_kid_is_the_rfc7638_thumbprint_of_the_public_key(key_provider):
    (jwk,) = key_provider.public_jwks()["keys"]
    assert jwk["kid"] == key_provider.current_signing_kid()
    assert OKPKey.import_key({k: jwk[k] for k in ("kty", "crv", "x")}).thumbprint() == jwk["kid"]


def test_the_jwks_carries_no_private_material_and_loads_in_standard_libraries(key_provider):
    key_provider.rotate_signing(immediately=True)
    jwks = key_provider.public_jwks()
    assert all(set(jwk) == {"kty", "crv", "x", "kid", "use", "alg", "status"} for jwk in jwks["keys"])
    assert len(KeySet.import_key_set(jwks).keys) == 2
    assert len(jwt.PyJWKSet.from_dict(jwks).keys) == 2


def test_signatures_verify_under_the_published_public_key(key_provider):
    kid = key_provider.current_signing_kid()
    signature = key_provider.sign(kid, b"message")
    (jwk,) = key_provider.public_jwks()["keys"]
    Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"])).verify(signature, b"message")


def test_rotating_the_signing_key_keeps_the_old_one_published_as_retired(key_provider):
    old_kid = key_provider.current_signing_kid()
    new_kid = key_provider.rotate_signing(immediately=True)
    assert new_kid != old_kid
    assert key_provider.current_signing_kid() == new_kid
    statuses = {jwk["kid"]: jwk["status"] for jwk in key_provider.public_jwks()["keys"]}
    assert statuses == {old_kid: "retired", new_kid: "current"}
    assert key_provider.sign(old_kid, b"still held")


def test_rotating_the_data_key_keeps_old_keys_for_decryption(key_provider):
    old_key = key_provider.current_data_key()
    new_kid = key_provider.rotate_data()
    assert new_kid != old_key.kid and "." not in new_kid
    assert key_provider.current_data_key().kid == new_kid
    assert len(key_provider.current_data_key().secret) == 32
    assert key_provider.data_key(old_key.kid) == old_key


def test_a_first_rotation_on_a_fresh_directory_still_leaves_one_current_key(key_provider):
    new_kid = key_provider.rotate_signing(immediately=True)
    keyring = json.loads((key_provider.keys_dir / SIGNING_KEYS_FILE).read_text())
    assert keyring["current"] == new_kid
    assert [record["status"] for record in keyring["keys"]] == ["retired", "current"]


def test_unknown_key_ids_are_refused(key_provider):
    with pytest.raises(UnknownKey):
        key_provider.sign("no-such-kid", b"x")
    with pytest.raises(UnknownKey):
        key_provider.data_key("dk-000000000000")


def test_a_rotation_made_by_another_process_is_picked_up_on_the_next_call(key_provider):
    server = FileKeyProvider(key_provider.keys_dir)
    first_signing, first_data = server.current_signing_kid(), server.current_data_key().kid
    cli = FileKeyProvider(key_provider.keys_dir)
    new_signing, new_data = cli.rotate_signing(immediately=True), cli.rotate_data()
    assert new_signing != first_signing and new_data != first_data
    assert server.current_signing_kid() == new_signing
    assert server.current_data_key().kid == new_data
    assert {jwk["kid"] for jwk in server.public_jwks()["keys"]} == {first_signing, new_signing}


def test_workers_starting_together_agree_on_one_key(tmp_path):
    keys_dir = tmp_path / "keys"

    def first_use(_):
        provider = FileKeyProvider(keys_dir)
        return provider.current_signing_kid(), provider.current_data_key().kid, provider.blind_index_key()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = set(pool.map(first_use, range(16)))
    assert len(results) == 1


def test_the_blind_index_key_is_separate_from_every_data_key(key_provider):
    index_key = key_provider.blind_index_key()
    key_provider.rotate_data()
    data_keys = {key_provider.data_key(jwk["kid"]).secret for jwk in _data_records(key_provider)}
    assert len(index_key) == 32 and index_key not in data_keys
    assert FileKeyProvider(key_provider.keys_dir).blind_index_key() == index_key


def _data_records(key_provider):
    return json.loads((key_provider.keys_dir / DATA_KEYS_FILE).read_text())["keys"]
