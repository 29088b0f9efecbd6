"""A compromised signing key is revoked: it leaves the JWKS (named under "revoked"), never signs again, and
nothing it signed verifies any more — the engine's verifiers say why; a current key is replaced first."""

from __future__ import annotations

import pytest

from compliance.keys import FileKeyProvider, UnknownKey
from compliance.signing import SignatureInvalid, sign_report, verify_report

REPORT = {"decision_id": "dec_revoked", "limit": "125000.00"}


def test_revoking_the_current_key_replaces_it_and_withdraws_it_from_the_jwks(tmp_path):
    keys = FileKeyProvider(tmp_path)
    compromised = keys.current_signing_kid()
    signed_before = sign_report(REPORT, keys)
    assert verify_report(signed_before, keys.public_jwks()) == REPORT

    current = keys.revoke_signing(compromised, reason="the key file was copied off a laptop")
    assert current != compromised and keys.current_signing_kid() == current
    jwks = keys.public_jwks()
    assert compromised not in [k["kid"] for k in jwks["keys"]]
    assert [r["kid"] for r in jwks["revoked"]] == [compromised] and jwks["revoked"][0]["revoked_at"]
    with pytest.raises(SignatureInvalid) as refused:
        verify_report(signed_before, jwks)
    assert refused.value.code == "key_revoked" and "pull it again" in refused.value.detail
    assert verify_report(sign_report(REPORT, keys), jwks) == REPORT  # the new key signs and verifies
    # a verifier that knows nothing of "revoked" (RFC 7517: it ignores the member) finds no such key either
    with pytest.raises(SignatureInvalid) as generic:
        verify_report(signed_before, {"keys": jwks["keys"]})
    assert generic.value.code == "unknown_kid"


def test_a_retired_key_can_be_revoked_and_the_current_one_keeps_signing(tmp_path):
    keys = FileKeyProvider(tmp_path)
    old = keys.current_signing_kid()
    keys.rotate_signing(immediately=True)
    current = keys.current_signing_kid()
    assert keys.revoke_signing(old, reason="found in an old backup") == current
    assert [r["kid"] for r in keys.public_jwks()["revoked"]] == [old]


def test_an_unknown_key_or_no_reason_is_refused(tmp_path):
    keys = FileKeyProvider(tmp_path)
    with pytest.raises(UnknownKey):
        keys.revoke_signing("nope", reason="x")
    with pytest.raises(ValueError):
        keys.revoke_signing(keys.current_signing_kid(), reason="  ")
    assert keys.public_jwks()["revoked"] == []
