"""Signed decision reports: a bank verifies them with the served JWKS alone, with any JOSE library,
before and after a key rotation; any changed byte fails."""
import base64
import http.server
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws as joserfc_jws
from joserfc.jwk import KeySet
from sqlalchemy import select
from typer.testing import CliRunner

from compliance import audit, checkpoints, reports, signing
from compliance.keys import FileKeyProvider
from risk_engine import cli

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
runner = CliRunner()

DECISION = {
    "decision_id": "dec_test0001", "dealer_id": "dlr_test0001", "bank_id": "bnk_test0001",
    "outcome": "approved", "limit": Decimal("125000.00"), "grade": "B+", "pd": 0.0123, "score": 642,
    "reasons": [{"code": "R07", "zh": "近三个月采购额下降", "en": "Purchases fell over 3 months"}],
    "contributions": {"dpd_max_90d": 0.41, "tenure_months": -0.22},
    "model": {"version": "m-2026-11", "sha256": "ab" * 32}, "ruleset": {"version": 3, "sha256": "cd" * 32},
}


def record_decision_and_prove(db, keys, decision=DECISION):
    """What the report route will do: audit the decision (binding its digest), checkpoint, prove, build."""
    with db.unit_of_work() as s:
        for i in range(4):
            audit.record(s, actor="test", action="other.thing", subject_type="x", subject_id=str(i))
        entry = audit.record(s, actor="platform:cli_x", action="decision.made", subject_type="decision",
                             subject_id=decision["decision_id"],
                             payload={"decision_sha256": reports.decision_digest(decision)})
        seq = entry.seq
        checkpoints.create_checkpoint(s, keys)
    with db.session() as s:
        proof = checkpoints.inclusion_proof(s, seq)
        row = s.get(audit.AuditEntry, seq)
        entry_columns = {k: getattr(row, k) for k in reports.ENTRY_FIELDS}
    payload = reports.build_report_payload(
        decision, seq=seq, entry_hash=proof["entry_hash"], inclusion_proof=proof["proof"],
        checkpoint=proof["checkpoint"], issued_at=datetime.now(UTC), entry=entry_columns)
    return reports.sign_decision_report(payload, keys)


def verify_with_joserfc(token, jwks):
    return json.loads(joserfc_jws.deserialize_compact(token, KeySet.import_key_set(jwks),
                                                      algorithms=["EdDSA", "Ed25519"]).payload)


def verify_with_pyjwt(token, jwks):
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return json.loads(jwt.PyJWS().decode(token, key=key, algorithms=["EdDSA"]))


def test_a_report_verifies_with_independent_jose_libraries_before_and_after_a_rotation(client, db):
    keys = client.app.state.keys
    old = record_decision_and_prove(db, keys)
    jwks = client.get("/.well-known/jwks.json").json()
    for verify in (verify_with_joserfc, verify_with_pyjwt):
        assert verify(old, jwks)["decision"]["limit"] == "125000.00"
    assert reports.verify_decision_report(old, jwks).checks == (
        "signature", "decision_digest", "checkpoint_signature", "inclusion_proof", "audit_entry")

    FileKeyProvider(client.app.state.settings.keys_dir).rotate_signing(immediately=True)  # as `--immediately` does
    new = record_decision_and_prove(db, keys, DECISION | {"decision_id": "dec_test0002"})
    jwks_after = client.get("/.well-known/jwks.json").json()
    assert len(jwks_after["keys"]) == 2
    assert signing.read_header(new)["kid"] != signing.read_header(old)["kid"]
    for token in (old, new):
        for verify in (verify_with_joserfc, verify_with_pyjwt):
            assert verify(token, jwks_after)["report_version"] == 1
        reports.verify_decision_report(token, jwks_after)


def _flip(token: str, position: int, bit: int) -> str:
    raw = bytearray(token.encode("ascii"))
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    raw[position] = alphabet[(alphabet.index(raw[position]) + bit) % len(alphabet)]
    return raw.decode("ascii")


@pytest.fixture(scope="module")
def signed_report(tmp_path_factory):
    from risk_engine import migrations
    from risk_engine.db import Database

    path = tmp_path_factory.mktemp("reportdb") / "r.db"
    migrations.upgrade(f"sqlite:///{path}")
    db, keys = Database(f"sqlite:///{path}"), FileKeyProvider(tmp_path_factory.mktemp("keys") / "k")
    token = record_decision_and_prove(db, keys)
    db.dispose()
    return token, keys.public_jwks()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_of_a_report_fails_verification(signed_report, data):
    token, jwks = signed_report
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    tampered = _flip(token, position, data.draw(st.integers(min_value=1, max_value=64)))
    assert tampered != token
    with pytest.raises(signing.SignatureInvalid):
        reports.verify_decision_report(tampered, jwks)


def _resign(payload, keys):
    return reports.sign_decision_report(payload, keys)


def _payload(token):
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_an_insider_with_the_signing_key_still_cannot_forge_the_audit_binding(db, settings):
    keys = FileKeyProvider(settings.keys_dir)
    token = record_decision_and_prove(db, keys)
    jwks = keys.public_jwks()
    payload = _payload(token)

    changed = json.loads(json.dumps(payload))
    changed["decision"]["limit"] = "999999.00"
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(changed, keys), jwks)
    assert e.value.code == "decision_digest_mismatch"

    changed["decision_sha256"] = reports.decision_digest(changed["decision"])  # consistent, but not audited
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(changed, keys), jwks)
    assert e.value.code == "decision_digest_mismatch"  # the audit entry records the original decision

    moved = json.loads(json.dumps(payload))
    moved["audit"]["inclusion_proof"]["path"][0] = "00" * 32
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(moved, keys), jwks)
    assert e.value.code == "inclusion_proof_invalid"

    foreign = json.loads(json.dumps(payload))
    mallory = FileKeyProvider(settings.keys_dir.parent / "mallory")
    foreign["audit"]["checkpoint"]["jws"] = signing.sign_payload(
        {"tree_size": 5, "root_hash": "00" * 32, "timestamp": 1}, mallory, typ="tree-head+jws")
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(foreign, keys), jwks)
    assert e.value.code == "checkpoint_invalid"


# --- risk-engine report verify -------------------------------------------------------------------------


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    jwks: bytes = b""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.jwks)

    def log_message(self, *args):
        pass


@pytest.fixture
def jwks_url(settings):
    keys = FileKeyProvider(settings.keys_dir)
    handler = type("Handler", (_JwksHandler,), {"jwks": json.dumps(keys.public_jwks()).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def test_report_verify_cli_accepts_a_jwks_file_or_url_and_refuses_a_tampered_report(db, settings, tmp_path,
                                                                                       jwks_url):
    keys = FileKeyProvider(settings.keys_dir)
    token = record_decision_and_prove(db, keys)
    report_file, jwks_file = tmp_path / "report.jws", tmp_path / "jwks.json"
    report_file.write_text(token)
    jwks_file.write_text(json.dumps(keys.public_jwks()))

    for source in (str(jwks_file), jwks_url):
        r = runner.invoke(cli.app, ["report", "verify", str(report_file), "--jwks", source])
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout)
        assert out["status"] == "valid" and out["decision"]["decision_id"] == "dec_test0001"
        assert "inclusion_proof" in out["checks"]

    head, body, sig = token.split(".")
    report_file.write_text(f"{head}.{body}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}")
    r = runner.invoke(cli.app, ["report", "verify", str(report_file), "--jwks", str(jwks_file)])
    assert r.exit_code == 1 and json.loads(r.stdout)["status"] == "invalid"

    r = runner.invoke(cli.app, ["report", "verify", str(report_file), "--jwks", "http://127.0.0.1:9/none"])
    assert r.exit_code == 2


def test_an_insider_cannot_bind_a_rewritten_decision_to_an_audit_entry_that_records_no_decision(db, settings):
    keys = FileKeyProvider(settings.keys_dir)
    token = record_decision_and_prove(db, keys)
    jwks = keys.public_jwks()
    payload = _payload(token)
    rewritten = json.loads(json.dumps(payload))
    rewritten["decision"]["limit"] = "999999.00"
    rewritten["decision_sha256"] = reports.decision_digest(rewritten["decision"])

    with db.session() as s:  # a genuine entry of the signed log, about something else (payload {})
        other = s.scalars(select(audit.AuditEntry).where(audit.AuditEntry.action == "other.thing")).first()
        proof = checkpoints.inclusion_proof(s, other.seq)
        columns = {k: getattr(other, k) for k in reports.ENTRY_FIELDS}
    moved = reports.build_report_payload(
        rewritten["decision"], seq=other.seq, entry_hash=proof["entry_hash"], inclusion_proof=proof["proof"],
        checkpoint=proof["checkpoint"], issued_at=datetime.now(UTC), entry=columns)
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(moved, keys), jwks)
    assert e.value.code == "decision_digest_mismatch"

    unbound = json.loads(json.dumps(moved))
    del unbound["audit"]["entry"]  # nothing left tying the decision to the audit trail
    with pytest.raises(reports.ReportInvalid) as e:
        reports.verify_decision_report(_resign(unbound, keys), jwks)
    assert e.value.code == "malformed_report"


@pytest.fixture
def cli_on(db, settings, monkeypatch):
    """The command line on the test database and the app's keys directory."""
    from risk_engine import db as dbmod
    from risk_engine.settings import get_settings

    monkeypatch.setenv("RISK_KEYS_DIR", str(settings.keys_dir))
    get_settings.cache_clear()
    monkeypatch.setattr(dbmod, "_database", db)
    yield lambda *args: runner.invoke(cli.app, list(args))
    get_settings.cache_clear()


def test_keys_rotate_signing_publishes_the_new_key_before_reports_are_signed_with_it(client, db, cli_on):
    from datetime import timedelta

    from compliance.keys import JWKS_MAX_AGE, SIGNING_KEY_LEAD_TIME

    served = client.get("/.well-known/jwks.json")
    assert served.headers["cache-control"] == f"public, max-age={int(JWKS_MAX_AGE.total_seconds())}"
    cached_by_the_bank = served.json()
    old = client.app.state.keys.current_signing_kid()

    r = cli_on("keys", "rotate", "--signing")
    assert r.exit_code == 0, r.output
    rotated = json.loads(r.stdout)
    new, takes_over_at = rotated["signing_kid"], rotated["signing_takes_over_at"]
    assert "signs from" in r.stderr

    # right after: the old key signs, so the bank's cached JWKS still verifies; the JWKS already has the new key
    report = record_decision_and_prove(db, client.app.state.keys)
    assert signing.read_header(report)["kid"] == old
    reports.verify_decision_report(report, cached_by_the_bank)
    jwks_after = client.get("/.well-known/jwks.json").json()
    assert {k["kid"]: k["status"] for k in jwks_after["keys"]} == {old: "current", new: "next"}
    status = json.loads(cli_on("keys", "status").stdout)
    assert status["signing_kid"] == old
    assert status["next_signing_key"] == {"kid": new, "takes_over_at": takes_over_at}
    with db.session() as s:
        entry = s.scalars(select(audit.AuditEntry).where(audit.AuditEntry.action == "keys.signing_rotated")).one()
    assert entry.subject_id == new
    assert json.loads(entry.payload) == {"retired": old, "takes_over_at": takes_over_at}

    # after the JWKS cache lifetime: the new key signs; a JWKS fetched after the rotation verifies it
    later = datetime.now(UTC) + SIGNING_KEY_LEAD_TIME + timedelta(seconds=2)
    client.app.state.keys = FileKeyProvider(client.app.state.settings.keys_dir, clock=lambda: later)
    report_later = record_decision_and_prove(db, client.app.state.keys, DECISION | {"decision_id": "dec_test0003"})
    assert signing.read_header(report_later)["kid"] == new
    reports.verify_decision_report(report_later, jwks_after)
    jwks_later = client.get("/.well-known/jwks.json").json()
    assert {k["kid"]: k["status"] for k in jwks_later["keys"]} == {old: "retired", new: "current"}
    reports.verify_decision_report(report, jwks_later)  # old keys stay published


def test_keys_rotate_signing_immediately_signs_with_the_new_key_at_once(client, cli_on):
    old = client.app.state.keys.current_signing_kid()
    r = cli_on("keys", "rotate", "--signing", "--immediately")
    assert r.exit_code == 0, r.output
    new = json.loads(r.stdout)["signing_kid"]
    assert client.app.state.keys.current_signing_kid() == new != old
    assert json.loads(r.stdout)["signing_takes_over_at"] is None
    assert cli_on("keys", "rotate", "--data", "--immediately").exit_code == 2
