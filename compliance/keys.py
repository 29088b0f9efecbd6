"""Key custody behind one interface: Ed25519 signing keys, AES-256 data keys, the blind-index key.

``KeyProvider`` is what the rest of the engine codes against; ``FileKeyProvider`` keeps the keys under a
directory (``RISK_KEYS_DIR``, resolved by the settings object and passed in). A KMS-backed provider
replaces it by signing inside the KMS and unwrapping envelope-encrypted data keys.

Files (each a JSON document of JWKs, RFC 7517, written atomically, mode 0600, directory 0700):

* ``signing_keys.json`` — ``{"current": kid, "next": kid (optional), "keys": [OKP Ed25519 private JWK +
  created_at, status]}``. The kid is the RFC 7638 thumbprint of the public key, so it is derived, never
  chosen. ``next`` names a key already published in the JWKS that signs from its ``takes_over_at`` on.
* ``data_keys.json`` — ``{"current": kid, "keys": [oct JWK (k = 32 bytes) + created_at, status]}``.
  Data kids look like ``dk-1a2b3c4d5e6f`` (no dots: they sit inside field tokens).
* ``blind_index_key.json`` — one oct JWK. Never rotated: rotating it means recomputing every index.

Rotation keeps the old keys: retired signing keys stay in the JWKS so old reports still verify,
retired data keys still decrypt until ``keys rotate --data`` has re-encrypted every value.

A signing key is published before it signs. Banks cache the JWKS (``JWKS_MAX_AGE``, the route's
``Cache-Control``), so a report under a kid their copy lacks would fail as ``unknown_kid``.
``rotate_signing()`` (and so ``keys rotate --signing``) therefore adds the new key as ``next`` with
``takes_over_at`` = now + ``SIGNING_KEY_LEAD_TIME``; until then the current key keeps signing. Only
``rotate_signing(immediately=True)`` (``--immediately``, for a compromised key) switches at once.
The takeover is read off the clock on every call (no scheduler, no write): the file keeps the statuses
of the last rotation, and the next rotation settles them. Keyrings without ``next`` (every file
written before this) read exactly as before.
Processes pick up a rotation made by another process (the CLI) on their next call: files are re-read
when their inode or mtime changes. Creation and rotation hold an exclusive ``flock`` on ``.lock`` so
that two workers starting together agree on one key.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from risk_engine.errors import DomainError

SIGNING_KEYS_FILE = "signing_keys.json"
DATA_KEYS_FILE = "data_keys.json"
BLIND_INDEX_KEY_FILE = "blind_index_key.json"
LOCK_FILE = ".lock"
JWS_ALGORITHM = "EdDSA"  # see compliance.signing for why not RFC 9864's "Ed25519"
DATA_KEY_BYTES = 32
CURRENT, RETIRED, NEXT = "current", "retired", "next"
# How long a client may cache GET /.well-known/jwks.json (its Cache-Control max-age) ...
JWKS_MAX_AGE = timedelta(minutes=5)
# ... so a new signing key is published this long before it signs: every cached copy then holds it.
SIGNING_KEY_LEAD_TIME = JWKS_MAX_AGE


class UnknownKey(LookupError):
    """No key with this id is held (it was never issued here, or the key files were replaced)."""


class KeysMissing(DomainError):
    """A key file is missing where keys are not made on first use (production): an empty or wrong
    ``RISK_KEYS_DIR`` must not silently become a new signing identity and a new data key."""

    status = 503
    title = "Keys unavailable"
    default_code = "keys_missing"


def key_provider_for(settings: Any) -> FileKeyProvider:
    """The key provider of a deployment: keys made on first use, except with ``RISK_ENV=production``, where
    ``risk-engine keys init`` makes them once and a missing file is an error (``KeysMissing``)."""
    return FileKeyProvider(settings.keys_dir, create_missing=settings.env != "production")


@dataclass(frozen=True)
class DataKey:
    kid: str
    secret: bytes = field(repr=False)


@runtime_checkable
class KeyProvider(Protocol):
    def current_signing_kid(self) -> str:
        """The kid new signatures are made with."""

    def sign(self, kid: str, message: bytes) -> bytes:
        """The Ed25519 signature of ``message`` under signing key ``kid``; raises ``UnknownKey``."""

    def public_jwks(self) -> dict[str, Any]:
        """Every public signing key, current, next and retired, as a JWKS (RFC 7517 §5)."""

    def next_signing_key(self) -> tuple[str, datetime] | None:
        """The published key that takes over signing later, and when; None when none is pending."""

    def current_data_key(self) -> DataKey:
        """The AES-256 key new field values are encrypted under."""

    def data_key(self, kid: str) -> DataKey:
        """A current or retired data key by id, for decryption; raises ``UnknownKey``."""

    def blind_index_key(self) -> bytes:
        """The HMAC-SHA256 key for blind indexes, separate from every data key."""

    def rotate_signing(self, *, immediately: bool = False,
                       takes_over_after: timedelta = SIGNING_KEY_LEAD_TIME) -> str:
        """Make a new signing key; returns its kid. It is published at once and signs only once
        ``takes_over_after`` (by default the JWKS cache lifetime) has passed; with ``immediately=True``
        (a compromised key) it signs at once and the old key retires now."""

    def rotate_data(self) -> str:
        """Make a new current data key, retire the old one; returns the new kid."""


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an OKP public key: the hash of ``{"crv","kty","x"}`` in JCS form."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b64url_encode(hashlib.sha256(canonical).digest())


def public_signing_jwk(private_key: Ed25519PrivateKey) -> dict[str, Any]:
    x = b64url_encode(private_key.public_key().public_bytes_raw())
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": x}
    return {**jwk, "kid": jwk_thumbprint(jwk), "use": "sig", "alg": JWS_ALGORITHM}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _now() -> str:
    return _timestamp(_utcnow())


def _new_signing_record(status: str, now: datetime | None = None) -> dict[str, Any]:
    private_key = Ed25519PrivateKey.generate()
    public = public_signing_jwk(private_key)
    return {
        **public,
        "d": b64url_encode(private_key.private_bytes_raw()),
        "created_at": _timestamp(now or _utcnow()),
        "status": status,
    }


def _new_data_record(status: str) -> dict[str, Any]:
    return {
        "kty": "oct",
        "kid": f"dk-{secrets.token_hex(6)}",
        "alg": "A256GCM",
        "k": b64url_encode(secrets.token_bytes(DATA_KEY_BYTES)),
        "created_at": _now(),
        "status": status,
    }


def _new_keyring(new_record: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    record = new_record(CURRENT)
    return {"current": record["kid"], "keys": [record]}


def _rotated(keyring: dict[str, Any], new_record: Callable[[str], dict[str, Any]],
             now: str | None = None) -> dict[str, Any]:
    record = new_record(CURRENT)
    retired = [
        {**old, "status": RETIRED, "retired_at": old.get("retired_at") or now or _now()} for old in keyring["keys"]
    ]
    return {"current": record["kid"], "keys": [*retired, record]}


@dataclass(frozen=True)
class SigningSchedule:
    """Who signs at one moment: ``current``, and the published ``next`` key with its takeover time."""

    current: str
    next: str | None = None
    takes_over_at: datetime | None = None

    def status_of(self, kid: str) -> str:
        return CURRENT if kid == self.current else NEXT if kid == self.next else RETIRED


def signing_schedule(keyring: dict[str, Any], now: datetime) -> SigningSchedule:
    """The keyring as of ``now``: a ``next`` key whose ``takes_over_at`` has come is the current one."""
    pending = keyring.get("next")
    if pending is None:
        return SigningSchedule(keyring["current"])
    record = next(r for r in keyring["keys"] if r["kid"] == pending)
    takes_over_at = _parse_timestamp(record["takes_over_at"])
    if now >= takes_over_at:
        return SigningSchedule(pending)
    return SigningSchedule(keyring["current"], pending, takes_over_at)


def _settled(keyring: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The keyring with a due takeover written out: the old current key retired when the next one took over."""
    schedule = signing_schedule(keyring, now)
    if keyring.get("next") is None or schedule.next is not None:
        return keyring
    takes_over_at = next(r["takes_over_at"] for r in keyring["keys"] if r["kid"] == keyring["next"])
    keys = [
        {**r, "status": schedule.status_of(r["kid"]),
         **({"retired_at": r.get("retired_at") or takes_over_at} if r["kid"] != schedule.current else {})}
        for r in keyring["keys"]
    ]
    return {"current": schedule.current, "keys": keys}


def _rotated_signing(keyring: dict[str, Any], now: datetime, takes_over_after: timedelta) -> dict[str, Any]:
    """A new signing key: current at once, or ``next`` from ``now + takes_over_after`` (rounded up to the
    second, so the stored time is never before the lead time has fully passed). The newest rotation wins:
    a still-pending key it supersedes is retired without ever signing, and stays published."""
    keyring = _settled(keyring, now)
    if takes_over_after <= timedelta(0):
        return _rotated(keyring, lambda status: _new_signing_record(status, now), _timestamp(now))
    takes_over_at = now + takes_over_after
    if takes_over_at.microsecond:
        takes_over_at = takes_over_at.replace(microsecond=0) + timedelta(seconds=1)
    record = {**_new_signing_record(NEXT, now), "takes_over_at": _timestamp(takes_over_at)}
    keys = [
        r if r["kid"] == keyring["current"]
        else {**r, "status": RETIRED, "retired_at": r.get("retired_at") or _timestamp(now)}
        for r in keyring["keys"]
    ]
    return {"current": keyring["current"], "next": record["kid"], "keys": [*keys, record]}


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, int, int]
    document: dict[str, Any]
    parsed: dict[str, Any]


class FileKeyProvider:
    """Keys in files under ``keys_dir``, created on first use (``create_missing``; ``init`` makes them all)."""

    def __init__(self, keys_dir: Path | str, *, clock: Callable[[], datetime] = _utcnow,
                 create_missing: bool = True) -> None:
        self.keys_dir = Path(keys_dir)
        self._clock = clock
        self.create_missing = create_missing
        self._snapshots: dict[str, _Snapshot] = {}
        self._guard = threading.Lock()

    # --- KeyProvider ------------------------------------------------------------------------------

    def current_signing_kid(self) -> str:
        return self.signing_schedule().current

    def next_signing_key(self) -> tuple[str, datetime] | None:
        schedule = self.signing_schedule()
        return None if schedule.next is None else (schedule.next, schedule.takes_over_at)

    def signing_schedule(self) -> SigningSchedule:
        return signing_schedule(self._signing().document, self._clock())

    def sign(self, kid: str, message: bytes) -> bytes:
        keys = self._signing().parsed
        if kid not in keys:
            raise UnknownKey(f"no signing key with kid {kid!r}")
        return keys[kid].sign(message)

    def public_jwks(self) -> dict[str, Any]:
        """The signing keys a verifier may trust, and (``revoked``, a member RFC 7517 lets verifiers that do
        not know it ignore) the ids of revoked keys: withdrawn from ``keys``, so no JOSE library accepts a
        signature made with them, and named, so the engine's own verifiers can say why."""
        public_members = ("kty", "crv", "x", "kid", "use", "alg")
        document = self._signing().document
        schedule = signing_schedule(document, self._clock())
        return {
            "keys": [{**{m: record[m] for m in public_members}, "status": schedule.status_of(record["kid"])}
                     for record in document["keys"] if not record.get("revoked_at")],
            "revoked": [{"kid": record["kid"], "revoked_at": record["revoked_at"]}
                        for record in document["keys"] if record.get("revoked_at")],
        }

    def revoke_signing(self, kid: str, *, reason: str) -> str:
        """Withdraw a signing key that must no longer be trusted (compromised): it leaves the JWKS and never
        signs again. The current (or a pending) key is first replaced by a new one that signs at once. The
        id of the key that signs now."""
        if not reason.strip():
            raise ValueError("say why the key is revoked")
        document = self._signing().document
        if kid not in {r["kid"] for r in document["keys"]}:
            raise UnknownKey(f"no signing key with kid {kid!r}")
        if kid in (self.current_signing_kid(), document.get("next")):
            self.rotate_signing(immediately=True)
        with self._exclusive():
            keyring = json.loads((self.keys_dir / SIGNING_KEYS_FILE).read_text(encoding="utf-8"))
            now = _timestamp(self._clock())
            keyring["keys"] = [
                {**r, "status": RETIRED, "retired_at": r.get("retired_at") or now,
                 "revoked_at": r.get("revoked_at") or now, "revocation_reason": reason.strip()}
                if r["kid"] == kid else r
                for r in keyring["keys"]
            ]
            self._write(SIGNING_KEYS_FILE, keyring)
        return self.current_signing_kid()

    def current_data_key(self) -> DataKey:
        snapshot = self._data()
        return snapshot.parsed[snapshot.document["current"]]

    def data_key(self, kid: str) -> DataKey:
        keys = self._data().parsed
        if kid not in keys:
            raise UnknownKey(f"no data key with kid {kid!r}")
        return keys[kid]

    def blind_index_key(self) -> bytes:
        return self._load(BLIND_INDEX_KEY_FILE, _new_blind_index_document, _parse_blind_index).parsed["key"]

    def rotate_signing(self, *, immediately: bool = False,
                       takes_over_after: timedelta = SIGNING_KEY_LEAD_TIME) -> str:
        if not immediately and takes_over_after <= timedelta(0):
            raise ValueError("a signing key rollover needs a positive takes_over_after; "
                             "to switch keys at once (a compromised key) pass immediately=True")
        self._signing()  # a first rotation on a fresh directory retires a freshly made key
        with self._exclusive():
            keyring = json.loads((self.keys_dir / SIGNING_KEYS_FILE).read_text(encoding="utf-8"))
            rotated = _rotated_signing(keyring, self._clock(), timedelta(0) if immediately else takes_over_after)
            self._write(SIGNING_KEYS_FILE, rotated)
        return rotated.get("next") or rotated["current"]

    def rotate_data(self) -> str:
        self._data()
        return self._rotate(DATA_KEYS_FILE, _new_data_record)

    # --- files ------------------------------------------------------------------------------------

    def _signing(self) -> _Snapshot:
        return self._load(SIGNING_KEYS_FILE, lambda: _new_keyring(_new_signing_record), _parse_signing)

    def _data(self) -> _Snapshot:
        return self._load(DATA_KEYS_FILE, lambda: _new_keyring(_new_data_record), _parse_data)

    def init(self) -> list[str]:
        """Make every key file not there yet (the signing keyring, the data keyring, the blind-index key);
        the names of those made. Keys already there are kept."""
        made = [name for name in (SIGNING_KEYS_FILE, DATA_KEYS_FILE, BLIND_INDEX_KEY_FILE)
                if _stamp(self.keys_dir / name) is None]
        creating, self.create_missing = self.create_missing, True
        try:
            self._signing(), self._data(), self.blind_index_key()
        finally:
            self.create_missing = creating
        return made

    def _load(self, name: str, create: Callable[[], dict], parse: Callable[[dict], dict]) -> _Snapshot:
        path = self.keys_dir / name
        stamp = _stamp(path)
        if stamp is None and not self.create_missing:
            raise KeysMissing(f"{path} is missing: RISK_KEYS_DIR must hold this deployment's keys (restore them "
                              "from the backup), or run `risk-engine keys init` once on a first install")
        if stamp is None:
            with self._exclusive():
                if _stamp(path) is None:
                    self._write(name, create())
            stamp = _stamp(path)
        cached = self._snapshots.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached
        with self._guard, path.open(encoding="utf-8") as handle:
            # Stamp and content from one open file: a concurrent replace cannot pair new stamp, old keys.
            document = json.load(handle)
            snapshot = _Snapshot(
                stamp=_stamp_of(os.fstat(handle.fileno())), document=document, parsed=parse(document)
            )
            self._snapshots[name] = snapshot
            return snapshot

    def _rotate(self, name: str, new_record: Callable[[str], dict[str, Any]]) -> str:
        with self._exclusive():
            keyring = json.loads((self.keys_dir / name).read_text(encoding="utf-8"))
            rotated = _rotated(keyring, new_record)
            self._write(name, rotated)
        return rotated["current"]

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self._ensure_dir()
        fd = os.open(self.keys_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _ensure_dir(self) -> None:
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)

    def _write(self, name: str, document: dict[str, Any]) -> None:
        temporary = self.keys_dir / f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.keys_dir / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        directory = os.open(self.keys_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        return _stamp_of(path.stat())
    except FileNotFoundError:
        return None


def _stamp_of(status: os.stat_result) -> tuple[int, int, int]:
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def _parse_signing(document: dict[str, Any]) -> dict[str, Ed25519PrivateKey]:
    keys = {}
    for record in document["keys"]:
        private_key = Ed25519PrivateKey.from_private_bytes(b64url_decode(record["d"]))
        if public_signing_jwk(private_key)["x"] != record["x"]:
            raise ValueError(f"{SIGNING_KEYS_FILE}: key {record['kid']} does not match its public half")
        keys[record["kid"]] = private_key
    if document["current"] not in keys:
        raise ValueError(f"{SIGNING_KEYS_FILE}: current kid {document['current']} is not among the keys")
    pending = document.get("next")
    if pending is not None:
        record = next((r for r in document["keys"] if r["kid"] == pending), {})
        try:
            _parse_timestamp(record["takes_over_at"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{SIGNING_KEYS_FILE}: next kid {pending} needs to be among the keys with a "
                             "takes_over_at time") from None
    return keys


def _parse_data(document: dict[str, Any]) -> dict[str, DataKey]:
    keys = {record["kid"]: DataKey(record["kid"], b64url_decode(record["k"])) for record in document["keys"]}
    if document["current"] not in keys or any(len(key.secret) != DATA_KEY_BYTES for key in keys.values()):
        raise ValueError(f"{DATA_KEYS_FILE}: needs 32-byte keys and a current kid among them")
    return keys


def _new_blind_index_document() -> dict[str, Any]:
    return {
        "kty": "oct",
        "kid": "bi-1",
        "alg": "HS256",
        "k": b64url_encode(secrets.token_bytes(32)),
        "created_at": _now(),
    }


def _parse_blind_index(document: dict[str, Any]) -> dict[str, bytes]:
    key = b64url_decode(document["k"])
    if len(key) < 32:
        raise ValueError(f"{BLIND_INDEX_KEY_FILE}: the key must be at least 32 bytes")
    return {"key": key}
