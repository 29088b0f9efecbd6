"""A new signing key is published in the JWKS before it signs: a bank holding a JWKS cached just before a
rotation verifies every report and checkpoint signed afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from compliance.keys import (
    JWKS_MAX_AGE,
    SIGNING_KEY_LEAD_TIME,
    SIGNING_KEYS_FILE,
    FileKeyProvider,
    public_signing_jwk,
)
from compliance.signing import read_header, sign_report, verify_report

REPORT = {"decision_id": "dec_rollover", "limit": "125000.00"}
T0 = datetime(2026, 3, 1, 8, 0, 0, 250_000, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def keys(tmp_path, clock) -> FileKeyProvider:
    return FileKeyProvider(tmp_path / "keys", clock=clock)


def statuses(keys: FileKeyProvider) -> dict[str, str]:
    return {jwk["kid"]: jwk["status"] for jwk in keys.public_jwks()["keys"]}


def keyring(keys: FileKeyProvider) -> dict:
    return json.loads((keys.keys_dir / SIGNING_KEYS_FILE).read_text())


def test_the_lead_time_is_the_jwks_cache_lifetime():
    assert SIGNING_KEY_LEAD_TIME == JWKS_MAX_AGE == timedelta(minutes=5)


def test_right_after_a_rotation_the_old_key_still_signs_and_the_jwks_already_holds_the_new_one(keys):
    old = keys.current_signing_kid()
    new = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    assert new != old
    assert keys.current_signing_kid() == old
    assert read_header(sign_report(REPORT, keys))["kid"] == old
    assert statuses(keys) == {old: "current", new: "next"}


def test_the_new_key_takes_over_once_the_jwks_cache_lifetime_has_passed(keys, clock):
    old = keys.current_signing_kid()
    new = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    _, takes_over_at = keys.next_signing_key()
    assert takes_over_at >= T0 + SIGNING_KEY_LEAD_TIME
    clock.now = takes_over_at - timedelta(microseconds=1)
    assert keys.current_signing_kid() == old
    clock.now = takes_over_at
    assert keys.current_signing_kid() == new
    assert read_header(sign_report(REPORT, keys))["kid"] == new
    assert statuses(keys) == {old: "retired", new: "current"}
    assert keys.next_signing_key() is None


def test_a_bank_holding_a_jwks_cached_just_before_the_rotation_verifies_every_report_until_it_expires(keys, clock):
    cached_before = keys.public_jwks()
    keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    cached_after = keys.public_jwks()
    while clock.now < T0 + JWKS_MAX_AGE:  # the copy cached before the rotation is still fresh
        assert verify_report(sign_report(REPORT, keys), cached_before) == REPORT
        clock.advance(timedelta(seconds=30))
    for _ in range(3):  # from the takeover on, the copy fetched after the rotation verifies
        assert verify_report(sign_report(REPORT, keys), cached_after) == REPORT
        clock.advance(timedelta(minutes=10))


def test_reports_signed_before_the_rotation_still_verify_with_the_jwks_served_after_the_takeover(keys, clock):
    before = sign_report(REPORT, keys)
    keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    clock.advance(SIGNING_KEY_LEAD_TIME * 3)
    assert verify_report(before, keys.public_jwks()) == REPORT


def test_the_takeover_time_is_the_creation_time_plus_the_lead_time_rounded_up_to_the_second(keys):
    keys.current_signing_kid()
    new = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    record = next(r for r in keyring(keys)["keys"] if r["kid"] == new)
    assert record["created_at"] == "2026-03-01T08:00:00Z"
    assert record["takes_over_at"] == "2026-03-01T08:05:01Z"  # 08:05:00.25 has not fully passed at 08:05:00
    assert keys.next_signing_key() == (new, datetime(2026, 3, 1, 8, 5, 1, tzinfo=UTC))


def test_another_process_sees_the_takeover_from_the_clock_without_the_key_file_being_rewritten(keys, clock):
    new = FileKeyProvider(keys.keys_dir, clock=clock).rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    written = (keys.keys_dir / SIGNING_KEYS_FILE).read_bytes()
    clock.advance(SIGNING_KEY_LEAD_TIME + timedelta(seconds=1))
    assert keys.current_signing_kid() == new
    assert (keys.keys_dir / SIGNING_KEYS_FILE).read_bytes() == written


def test_a_rotation_after_a_takeover_records_when_the_old_key_was_retired(keys, clock):
    old = keys.current_signing_kid()
    staged = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    clock.advance(timedelta(hours=1))
    newest = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    records = {r["kid"]: r for r in keyring(keys)["keys"]}
    assert records[old]["status"] == "retired" and records[old]["retired_at"] == "2026-03-01T08:05:01Z"
    assert keyring(keys)["current"] == staged and keyring(keys)["next"] == newest
    assert statuses(keys) == {old: "retired", staged: "current", newest: "next"}


def test_a_second_rotation_while_a_key_is_pending_supersedes_it_and_keeps_it_published(keys, clock):
    old = keys.current_signing_kid()
    superseded = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    clock.advance(timedelta(minutes=2))
    newest = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    assert statuses(keys) == {old: "current", superseded: "retired", newest: "next"}
    clock.advance(SIGNING_KEY_LEAD_TIME - timedelta(minutes=1))  # past the superseded key's takeover time
    assert keys.current_signing_kid() == old
    clock.advance(timedelta(minutes=1, seconds=1))
    assert keys.current_signing_kid() == newest


def test_a_rotation_asked_for_without_options_publishes_the_new_key_and_waits_the_jwks_cache_lifetime(
        keys, clock):
    old = keys.current_signing_kid()
    cached_before = keys.public_jwks()
    new = keys.rotate_signing()
    assert keys.current_signing_kid() == old
    assert statuses(keys) == {old: "current", new: "next"}
    assert verify_report(sign_report(REPORT, keys), cached_before) == REPORT
    assert keys.next_signing_key() == (new, datetime(2026, 3, 1, 8, 5, 1, tzinfo=UTC))
    clock.advance(SIGNING_KEY_LEAD_TIME + timedelta(seconds=1))
    assert keys.current_signing_kid() == new


def test_only_an_explicitly_immediate_rotation_switches_the_signing_key_at_once(keys):
    old = keys.current_signing_kid()
    new = keys.rotate_signing(immediately=True)
    assert keys.current_signing_kid() == new != old
    assert statuses(keys) == {old: "retired", new: "current"}
    assert keys.next_signing_key() is None


@pytest.mark.parametrize("lead_time", [timedelta(0), timedelta(seconds=-1)])
def test_a_rollover_without_a_lead_time_is_refused_rather_than_taken_as_immediate(keys, lead_time):
    old = keys.current_signing_kid()
    with pytest.raises(ValueError, match="immediately=True"):
        keys.rotate_signing(takes_over_after=lead_time)
    assert keys.current_signing_kid() == old and statuses(keys) == {old: "current"}


def test_an_immediate_rotation_signs_at_once_and_retires_a_pending_key(keys):
    old = keys.current_signing_kid()
    pending = keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    now = keys.rotate_signing(immediately=True)
    assert keys.current_signing_kid() == now
    assert statuses(keys) == {old: "retired", pending: "retired", now: "current"}
    assert "next" not in keyring(keys)


def test_a_keyring_written_before_key_rollover_existed_loads_unchanged(tmp_path, clock):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from compliance.keys import b64url_encode

    def record(status, **extra):
        private_key = Ed25519PrivateKey.generate()
        return {**public_signing_jwk(private_key), "d": b64url_encode(private_key.private_bytes_raw()),
                "created_at": "2025-01-01T00:00:00Z", "status": status, **extra}

    retired, current = record("retired", retired_at="2025-06-01T00:00:00Z"), record("current")
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(mode=0o700)
    (keys_dir / SIGNING_KEYS_FILE).write_text(json.dumps({"current": current["kid"], "keys": [retired, current]}))
    keys = FileKeyProvider(keys_dir, clock=clock)
    assert keys.current_signing_kid() == current["kid"]
    assert keys.next_signing_key() is None
    assert statuses(keys) == {retired["kid"]: "retired", current["kid"]: "current"}


def test_a_next_key_without_a_takeover_time_is_refused(keys):
    keys.rotate_signing(takes_over_after=SIGNING_KEY_LEAD_TIME)
    document = keyring(keys)
    for record in document["keys"]:
        record.pop("takes_over_at", None)
    (keys.keys_dir / SIGNING_KEYS_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="takes_over_at"):
        FileKeyProvider(keys.keys_dir).current_signing_kid()
