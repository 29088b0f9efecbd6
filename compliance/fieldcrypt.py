"""Field-level encryption of personal data (PIPL Art. 51) and blind indexes for exact-match lookups.

Stored form: one ASCII text token per value, ``v1.<kid>.<nonce>.<ciphertext>``, where ``nonce`` is the
random 96-bit AES-GCM nonce and ``ciphertext`` the AES-256-GCM output with its 16-byte tag, both unpadded
base64url. It needs ``len ≈ 36 + 4/3 · (utf-8 bytes + 16)`` characters: a ``TEXT`` column, or a
``VARCHAR(255)`` for values up to about 120 bytes. Text, because it reads the same through SQLite,
PostgreSQL and JSON, and because the key id is a visible prefix: rows still under an old key are
``WHERE col NOT LIKE 'v1.<current kid>.%'``.

The associated data binds the value to where it lives and to its key: JCS of
``["risk-engine/field/v1", kid, table, column, row_id]``. A ciphertext copied to another row, column or
table, or relabelled with another kid, fails authentication. The row id must therefore be known before
the value is encrypted (client-generated ids, or encrypt after the flush that assigns it).

Blind index: HMAC-SHA256 under the separate index key over JCS ``["risk-engine/blind-index/v1", column,
normalised value]``, hex. Scoped by column, so equal values in two columns do not link. Normalisation
is NFKC (full-width to ASCII), trim, upper-case: ``" 11010519491231002x"`` finds ``"11010519491231002X"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from compliance.keys import KeyProvider, UnknownKey
from compliance.kyb import normalise_identifier
from compliance.signing import canonical_json

TOKEN_VERSION = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16
_TOKEN = re.compile(r"v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})")


class UndecryptableField(Exception):
    """A stored value that cannot be decrypted here: malformed, an unknown key, or it fails authentication
    (tampered, or moved to another row, column or table). An integrity incident, not a client error."""


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _encode(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def _associated_data(kid: str, table: str, column: str, row_id: str | int) -> bytes:
    return canonical_json(["risk-engine/field/v1", kid, table, column, str(row_id)])


def encrypt_field(kp: KeyProvider, table: str, column: str, row_id: str | int, plaintext: str) -> str:
    """The ``v1.<kid>.<nonce>.<ciphertext>`` token of ``plaintext`` under the current data key."""
    key = kp.current_data_key()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key.secret).encrypt(
        nonce, plaintext.encode("utf-8"), _associated_data(key.kid, table, column, row_id)
    )
    return f"{TOKEN_VERSION}.{key.kid}.{_encode(nonce)}.{_encode(sealed)}"


def field_key_id(token: str) -> str:
    """The data-key id a token was encrypted under (no decryption)."""
    match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        raise UndecryptableField("not a v1 field token")
    return match.group(1)


def decrypt_field(kp: KeyProvider, table: str, column: str, row_id: str | int, token: str) -> str:
    """The plaintext of a token stored at ``table.column`` of ``row_id``; raises ``UndecryptableField``."""
    kid = field_key_id(token)
    _, _, nonce_text, sealed_text = token.split(".")
    try:
        nonce, sealed = _decode(nonce_text), _decode(sealed_text)
    except (binascii.Error, ValueError):
        raise UndecryptableField("field token is not canonical base64url") from None
    if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
        raise UndecryptableField("field token has a wrong nonce or ciphertext length")
    try:
        key = kp.data_key(kid)
    except UnknownKey:
        raise UndecryptableField(f"field token is under data key {kid!r}, which is not held") from None
    try:
        plaintext = AESGCM(key.secret).decrypt(nonce, sealed, _associated_data(kid, table, column, row_id))
    except InvalidTag:
        raise UndecryptableField(
            f"field {table}.{column} of row {row_id} fails authentication (tampered or moved)"
        ) from None
    return plaintext.decode("utf-8")


def needs_reencryption(kp: KeyProvider, token: str) -> bool:
    """True when the token is under a data key other than the current one."""
    return field_key_id(token) != kp.current_data_key().kid


def reencrypt_field(kp: KeyProvider, table: str, column: str, row_id: str | int, token: str) -> str:
    """The same value under the current data key (for ``keys rotate --data``); unchanged if already there."""
    if not needs_reencryption(kp, token):
        return token
    return encrypt_field(kp, table, column, row_id, decrypt_field(kp, table, column, row_id, token))


def blind_index(kp: KeyProvider, column: str, value: str) -> str:
    """64 hex characters identifying ``value`` in ``column`` for exact-match lookup, without revealing it."""
    message = canonical_json(["risk-engine/blind-index/v1", column, normalise_identifier(value)])
    return hmac.new(kp.blind_index_key(), message, hashlib.sha256).hexdigest()
