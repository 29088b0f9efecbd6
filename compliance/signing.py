"""Signed decision reports: JCS payloads (RFC 8785) in compact JWS (RFC 7515) with Ed25519 (RFC 8037).

Algorithm name. We emit ``"alg": "EdDSA"`` and accept both ``EdDSA`` and ``Ed25519``. RFC 9864 registers
the fully specified ``Ed25519`` and deprecates ``EdDSA``, but the banks verify with whatever JOSE library
their stack has, and today many know only ``EdDSA`` (PyJWT 2.15, for one, has no ``Ed25519``). With
Ed25519 as the only EdDSA curve we hold, and the JWK saying ``"crv": "Ed25519"``, ``EdDSA`` is not
ambiguous here. Switching the emitted name is the one constant ``JWS_ALGORITHM`` in ``compliance.keys``;
verifiers of this module keep accepting both names.

Signing is done with ``cryptography`` directly (the compact form is three base64url segments), so the
tests check every report with independent JOSE implementations (joserfc and PyJWT) against the JWKS.

Protected header: ``{"alg", "kid", "typ"}``, JCS-serialised. ``typ`` is ``decision-report+jws`` for
reports and ``tree-head+jws`` for signed tree heads, so one kind of document can never pass for the other.

Verification is strict: exactly three segments in canonical unpadded base64url (a changed trailing
character that only flips padding bits is refused too), a JSON-object header without duplicate names,
no ``crit``, the expected ``typ``, a known ``kid`` whose JWK is an Ed25519 OKP key for signatures, and a
JSON-object payload. Every failure raises ``SignatureInvalid`` (an ``InvalidInput``) with a ``code``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from compliance.keys import JWS_ALGORITHM, KeyProvider
from risk_engine.errors import InvalidInput

REPORT_TYPE = "decision-report+jws"
ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "Ed25519"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class SignatureInvalid(InvalidInput):
    """A signed document that does not verify. ``code`` says why:

    ``malformed_jws``, ``malformed_jwks``, ``unsupported_alg``, ``wrong_type``, ``unknown_kid``,
    ``bad_signature``.
    """

    title = "Signature invalid"
    default_code = "bad_signature"


def canonical_json(value: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme bytes (sorted keys, no spaces, ES6 numbers, UTF-8)."""
    return rfc8785.dumps(value)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(segment: str, part: str) -> bytes:
    """Strict base64url: only the URL alphabet, no padding, and the one canonical spelling of the bytes."""
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise SignatureInvalid(f"jws: {part} is not unpadded base64url", field="jws", code="malformed_jws")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"jws: {part} is not base64url", field="jws", code="malformed_jws") from None
    if _encode(raw) != segment:
        raise SignatureInvalid(
            f"jws: {part} is not in canonical base64url (non-zero padding bits)",
            field="jws",
            code="malformed_jws",
        )
    return raw


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise ValueError("duplicate member name")
    return dict(pairs)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_json_object(raw: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError):
        raise SignatureInvalid(f"jws: {part} is not valid JSON", field="jws", code="malformed_jws") from None
    if not isinstance(value, dict):
        raise SignatureInvalid(f"jws: {part} must be a JSON object", field="jws", code="malformed_jws")
    return value


def sign_payload(payload: Mapping[str, Any], key_provider: KeyProvider, *, typ: str) -> str:
    """Compact JWS of the JCS form of ``payload`` under the provider's current signing key."""
    kid = key_provider.current_signing_kid()
    header = _encode(canonical_json({"alg": JWS_ALGORITHM, "kid": kid, "typ": typ}))
    body = _encode(canonical_json(dict(payload)))
    signing_input = f"{header}.{body}".encode("ascii")
    return f"{header}.{body}.{_encode(key_provider.sign(kid, signing_input))}"


def read_header(jws: str) -> dict[str, Any]:
    """The protected header, parsed but NOT verified: for display and for picking a key, never for trust."""
    segments = _segments(jws)
    return _parse_json_object(_decode(segments[0], "header"), "header")


def _segments(jws: str) -> list[str]:
    if not isinstance(jws, str) or not jws.strip().isascii():
        raise SignatureInvalid("jws: must be ASCII text", field="jws", code="malformed_jws")
    segments = jws.strip().split(".")
    if len(segments) != 3:
        raise SignatureInvalid(
            f"jws: compact serialisation has 3 dot-separated segments, got {len(segments)}",
            field="jws",
            code="malformed_jws",
        )
    return segments


def _public_key_for(kid: str, jwks: Mapping[str, Any]) -> Ed25519PublicKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise SignatureInvalid(
            "jwks: must be an object with a 'keys' list", field="jwks", code="malformed_jwks"
        )
    matches = [key for key in keys if isinstance(key, Mapping) and key.get("kid") == kid]
    if not matches:
        revoked = {r.get("kid"): r.get("revoked_at") for r in jwks.get("revoked") or [] if isinstance(r, Mapping)}
        if kid in revoked:
            raise SignatureInvalid(
                f"jws: signed with key {kid!r}, revoked at {revoked[kid]}: nothing it signed is trusted (a decision "
                "report: pull it again, it is signed with the current key)", field="jws", code="key_revoked")
        raise SignatureInvalid(f"jws: no key with kid {kid!r} in the JWKS", field="jws", code="unknown_kid")
    if len(matches) > 1:
        raise SignatureInvalid(
            f"jwks: more than one key with kid {kid!r}", field="jwks", code="malformed_jwks"
        )
    jwk = matches[0]
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise SignatureInvalid(
            f"jwks: key {kid!r} is not an Ed25519 OKP key", field="jwks", code="unsupported_alg"
        )
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", JWS_ALGORITHM) not in ACCEPTED_ALGORITHMS:
        raise SignatureInvalid(
            f"jwks: key {kid!r} is not meant for EdDSA signatures", field="jwks", code="unsupported_alg"
        )
    try:
        raw = base64.urlsafe_b64decode(str(jwk.get("x", "")) + "=" * (-len(str(jwk.get("x", ""))) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(
            f"jwks: key {kid!r} has no valid 'x'", field="jwks", code="malformed_jwks"
        ) from None


def verify_payload(jws: str, jwks: Mapping[str, Any], *, typ: str) -> dict[str, Any]:
    """The payload of a compact JWS of type ``typ`` that verifies against ``jwks``; raises otherwise."""
    header_segment, payload_segment, signature_segment = _segments(jws)
    header = _parse_json_object(_decode(header_segment, "header"), "header")
    signature = _decode(signature_segment, "signature")
    if "crit" in header:
        raise SignatureInvalid(
            "jws: header has 'crit' extensions this verifier does not understand",
            field="jws",
            code="malformed_jws",
        )
    alg = header.get("alg")
    if alg not in ACCEPTED_ALGORITHMS:
        raise SignatureInvalid(
            f"jws: alg must be one of {', '.join(sorted(ACCEPTED_ALGORITHMS))}, got {alg!r}",
            field="jws",
            code="unsupported_alg",
        )
    if not isinstance(header.get("typ"), str) or header["typ"].lower() != typ.lower():
        raise SignatureInvalid(
            f"jws: typ must be {typ!r}, got {header.get('typ')!r}", field="jws", code="wrong_type"
        )
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise SignatureInvalid("jws: header has no kid", field="jws", code="unknown_kid")
    public_key = _public_key_for(kid, jwks)
    try:
        public_key.verify(signature, f"{header_segment}.{payload_segment}".encode("ascii"))
    except InvalidSignature:
        raise SignatureInvalid(
            f"jws: signature does not verify under key {kid!r}", field="jws", code="bad_signature"
        ) from None
    return _parse_json_object(_decode(payload_segment, "payload"), "payload")


def sign_report(payload: dict[str, Any], key_provider: KeyProvider) -> str:
    """The decision report as a compact JWS (typ ``decision-report+jws``), served as ``application/jose``."""
    return sign_payload(payload, key_provider, typ=REPORT_TYPE)


def verify_report(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The report payload when ``jws`` is a valid decision report signed by a key in ``jwks``.

    Raises ``SignatureInvalid`` naming the problem: malformed token or JWKS, unsupported alg, wrong typ,
    unknown kid, bad signature.
    """
    return verify_payload(jws, jwks, typ=REPORT_TYPE)
