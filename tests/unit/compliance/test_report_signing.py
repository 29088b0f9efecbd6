from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws as joserfc_jws
from joserfc.jwk import KeySet, OKPKey

from compliance.keys import FileKeyProvider
from compliance.signing import (
    REPORT_TYPE,
    SignatureInvalid,
    canonical_json,
    read_header,
    sign_report,
    verify_report,
)

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # joserfc's RFC 9864 notice

REPORT = {
    "decision_id": "dec_01J9Z3",
    "dealer_credit_code": "9144030071526726XG",
    "outcome": "approved",
    "limit": "125000.00",
    "pd": 0.0123,
    "reasons": [{"code": "R07", "zh": "近三个月采购额下降", "en": "Purchases fell over 3 months"}],
}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_joserfc(token: str, jwks: dict) -> dict:
    result = joserfc_jws.deserialize_compact(
        token, KeySet.import_key_set(jwks), algorithms=["EdDSA", "Ed25519"]
    )
    return json.loads(result.payload)


def verify_with_pyjwt(token: str, jwks: dict) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return json.loads(jwt.PyJWS().decode(token, key=key, algorithms=["EdDSA"]))


def test_a_signed_report_verifies_and_returns_the_payload(key_provider):
    token = sign_report(REPORT, key_provider)
    assert verify_report(token, key_provider.public_jwks()) == REPORT


def test_the_header_names_alg_kid_and_type_and_the_payload_is_jcs(key_provider):
    token = sign_report(REPORT, key_provider)
    header_segment, payload_segment, signature_segment = token.split(".")
    assert read_header(token) == {
        "alg": "EdDSA",
        "kid": key_provider.current_signing_kid(),
        "typ": REPORT_TYPE,
    }
    assert unb64(header_segment) == rfc8785.dumps(read_header(token))
    assert unb64(payload_segment) == canonical_json(REPORT) == rfc8785.dumps(REPORT)
    assert len(unb64(signature_segment)) == 64


def test_independent_jose_libraries_verify_reports_before_and_after_a_key_rotation(key_provider):
    before = sign_report(REPORT, key_provider)
    jwks_before = key_provider.public_jwks()
    assert verify_with_joserfc(before, jwks_before) == REPORT
    assert verify_with_pyjwt(before, jwks_before) == REPORT

    key_provider.rotate_signing(immediately=True)
    after = sign_report({**REPORT, "decision_id": "dec_after"}, key_provider)
    jwks_after = key_provider.public_jwks()
    assert read_header(after)["kid"] != read_header(before)["kid"]
    for token, expected in ((before, REPORT), (after, {**REPORT, "decision_id": "dec_after"})):
        assert verify_with_joserfc(token, jwks_after) == expected
        assert verify_with_pyjwt(token, jwks_after) == expected
        assert verify_report(token, jwks_after) == expected


def test_a_report_signed_after_rotation_is_refused_by_the_old_jwks(key_provider):
    old_jwks = key_provider.public_jwks()
    key_provider.rotate_signing(immediately=True)
    with pytest.raises(SignatureInvalid) as error:
        verify_report(sign_report(REPORT, key_provider), old_jwks)
    assert error.value.code == "unknown_kid"


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_reports_signed_elsewhere_verify_under_either_algorithm_name(alg):
    private_key = OKPKey.generate_key("Ed25519", parameters={"kid": "bank-test-key"})
    header = {"alg": alg, "kid": "bank-test-key", "typ": REPORT_TYPE}
    token = joserfc_jws.serialize_compact(header, rfc8785.dumps(REPORT), private_key, algorithms=[alg])
    assert verify_report(token, {"keys": [private_key.as_dict(private=False)]}) == REPORT


def test_a_report_under_a_key_missing_from_the_jwks_is_refused(key_provider, tmp_path):
    stranger = FileKeyProvider(tmp_path / "stranger")
    with pytest.raises(SignatureInvalid) as error:
        verify_report(sign_report(REPORT, stranger), key_provider.public_jwks())
    assert error.value.code == "unknown_kid" and error.value.field == "jws"


def test_a_signature_from_another_key_under_the_same_kid_is_refused(key_provider, tmp_path):
    token = sign_report(REPORT, key_provider)
    impostor = FileKeyProvider(tmp_path / "impostor").public_jwks()["keys"][0]
    forged_jwks = {"keys": [{**impostor, "kid": key_provider.current_signing_kid()}]}
    with pytest.raises(SignatureInvalid, match="does not verify") as error:
        verify_report(token, forged_jwks)
    assert error.value.code == "bad_signature"


def resign(token: str, key_provider, **header_changes) -> str:
    header = {**read_header(token), **header_changes}
    header = {name: value for name, value in header.items() if value is not None}
    header_segment = b64(json.dumps(header).encode())
    payload_segment = token.split(".")[1]
    signature = key_provider.sign(
        key_provider.current_signing_kid(), f"{header_segment}.{payload_segment}".encode()
    )
    return f"{header_segment}.{payload_segment}.{b64(signature)}"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"alg": "none"}, "unsupported_alg"),
        ({"alg": "ES256"}, "unsupported_alg"),
        ({"alg": None}, "unsupported_alg"),
        ({"typ": "JWT"}, "wrong_type"),
        ({"typ": None}, "wrong_type"),
        ({"kid": None}, "unknown_kid"),
        ({"crit": ["b64"], "b64": False}, "malformed_jws"),
    ],
)
def test_headers_the_verifier_does_not_accept_are_refused_even_when_correctly_signed(
    key_provider, changes, code
):
    token = resign(sign_report(REPORT, key_provider), key_provider, **changes)
    with pytest.raises(SignatureInvalid) as error:
        verify_report(token, key_provider.public_jwks())
    assert error.value.code == code


def test_the_type_is_compared_case_insensitively(key_provider):
    token = resign(sign_report(REPORT, key_provider), key_provider, typ=REPORT_TYPE.upper())
    assert verify_report(token, key_provider.public_jwks()) == REPORT


def test_an_hmac_forged_with_the_public_key_as_secret_is_refused(key_provider):
    token = sign_report(REPORT, key_provider)
    public_x = unb64(key_provider.public_jwks()["keys"][0]["x"])
    header = b64(json.dumps({"alg": "HS256", "kid": read_header(token)["kid"], "typ": REPORT_TYPE}).encode())
    payload = token.split(".")[1]
    mac = hmac.new(public_x, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(SignatureInvalid) as error:
        verify_report(f"{header}.{payload}.{b64(mac)}", key_provider.public_jwks())
    assert error.value.code == "unsupported_alg"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "not base64!.e30.AA",
        "e30=.e30.AA",
        "W10.e30.AA",  # header is a JSON array
        "eyJhIjoxLCJhIjoyfQ.e30.AA",  # duplicate header member
        "報告.e30.AA",
    ],
)
def test_malformed_tokens_are_refused_as_malformed(key_provider, token):
    with pytest.raises(SignatureInvalid) as error:
        verify_report(token, key_provider.public_jwks())
    assert error.value.code == "malformed_jws"


@pytest.mark.parametrize("jwks", [{}, {"keys": "none"}, [], {"keys": [{"kid": "k", "kty": "OKP"}] * 2}])
def test_a_malformed_jwks_is_refused(key_provider, jwks):
    token = sign_report(REPORT, key_provider)
    if isinstance(jwks, dict) and isinstance(jwks.get("keys"), list):
        jwks = {"keys": [{**key, "kid": read_header(token)["kid"]} for key in jwks["keys"]]}
    with pytest.raises(SignatureInvalid) as error:
        verify_report(token, jwks)
    assert error.value.code == "malformed_jwks" and error.value.field == "jwks"


def test_a_signature_respelled_only_in_its_padding_bits_is_refused(key_provider):
    token = sign_report(REPORT, key_provider)
    head, _, last = token.rpartition(".")
    # 64 bytes -> 86 characters: the last one carries 2 data bits and 4 padding bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(last[-1])
    respelled = last[:-1] + alphabet[value | 0b0001]
    if respelled == last:
        respelled = last[:-1] + alphabet[value & ~0b0001]
    assert unb64(respelled) == unb64(last)
    with pytest.raises(SignatureInvalid) as error:
        verify_report(f"{head}.{respelled}", key_provider.public_jwks())
    assert error.value.code == "malformed_jws"


def test_a_report_with_surrounding_whitespace_from_a_file_still_verifies(key_provider):
    assert verify_report(f"\n{sign_report(REPORT, key_provider)}\n", key_provider.public_jwks()) == REPORT


@pytest.fixture(scope="module")
def signed_report(shared_key_provider):
    return sign_report(REPORT, shared_key_provider), shared_key_provider.public_jwks()


REPLACEMENTS = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.= "
)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_changed_character_of_a_signed_report_fails_verification(signed_report, data):
    token, jwks = signed_report
    first_dot, second_dot = token.index("."), token.rindex(".")
    where = {
        "header": st.integers(0, first_dot - 1),
        "payload": st.integers(first_dot + 1, second_dot - 1),
        "signature": st.integers(second_dot + 1, len(token) - 1),
        "separator": st.sampled_from([first_dot, second_dot]),
    }
    segment = data.draw(st.sampled_from(sorted(where)), label="segment")
    position = data.draw(where[segment], label="position")
    replacement = data.draw(REPLACEMENTS.filter(lambda char: char != token[position]), label="replacement")
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(SignatureInvalid):
        verify_report(tampered, jwks)
