"""The audit page: the whole trail verified in the background (a tampered entry is named), the latest
signed checkpoint, the newest entries; an admin signs a checkpoint through the same service as the API."""

from __future__ import annotations

from sqlalchemy import update

from compliance.models import AuditEntry
from tests.factories import make_api_key
from tests.integration.test_console_access import csrf_of, log_in


def verified_page(client):
    client.get("/console/audit")  # starts a run when none is fresh
    client.app.state.console_verifier.wait()
    return client.get("/console/audit")


def test_the_audit_page_verifies_the_trail_in_the_background_and_signs_a_checkpoint(client, db):
    log_in(client, make_api_key(db, "admin", name="Admin Li"), "/console/audit")
    first = client.get("/console/audit")
    assert first.status_code == 200 and 'id="trail-status"' in first.text
    page = verified_page(client)
    assert "Intact" in page.text and "No checkpoint has been signed yet" in page.text
    assert "console.session_opened" in page.text and "Admin Li" in page.text
    response = client.post(
        "/console/audit/checkpoints", data={"csrf_token": csrf_of(page.text)}, follow_redirects=True
    )
    assert "A checkpoint is signed" in response.text
    assert "Latest signed checkpoint" in response.text and "Tree size" in response.text
    status = client.get("/console/audit/status")
    assert status.status_code == 200 and 'id="trail-status-region"' in status.text


def test_a_changed_entry_is_named_on_the_audit_page(client, db):
    log_in(client, make_api_key(db, "admin"), "/console/audit")
    make_api_key(db, "platform")  # a second entry to tamper with
    with db.engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(actor="someone:else"))
    page = verified_page(client)
    assert "BROKEN" in page.text and "audit entry 1" in page.text


def test_verify_again_starts_a_new_run(client, db):
    log_in(client, make_api_key(db, "risk_officer"), "/console/audit")
    page = verified_page(client)
    before = client.app.state.console_verifier.latest
    r = client.post("/console/audit/verify", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.headers["location"] == "/console/audit?done=audit.verifying"
    assert client.app.state.console_verifier.wait() is not before


def test_only_an_admin_signs_a_checkpoint_from_the_console(client, db):
    log_in(client, make_api_key(db, "risk_officer"))
    page = client.get("/console/audit")
    assert "Sign a checkpoint now" not in page.text
    response = client.post("/console/audit/checkpoints", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 403
    assert "Only an admin" in response.text


def test_a_checkpoint_signed_while_the_trail_is_read_is_no_false_alarm(client, db, monkeypatch):
    from compliance import audit, checkpoints

    log_in(client, make_api_key(db, "admin"), "/console/audit")
    scan = audit.iter_chain

    def scan_then_grow(session, *args, **kwargs):
        yield from scan(session, *args, **kwargs)
        monkeypatch.setattr(audit, "iter_chain", scan)
        make_api_key(db, "platform")  # meanwhile: one more entry, and a checkpoint over it
        with db.unit_of_work() as other:
            checkpoints.create_checkpoint(other, client.app.state.keys)

    monkeypatch.setattr(audit, "iter_chain", scan_then_grow)
    client.app.state.console_verifier.refresh(force=True)
    verification = client.app.state.console_verifier.wait()
    assert verification.error is None and verification.intact, verification.report


def test_checkpoints_signed_with_a_revoked_key_are_named_untrusted_not_tampering(client, db):
    from compliance import checkpoints

    keys = client.app.state.keys
    log_in(client, make_api_key(db, "admin"), "/console/audit")
    with db.unit_of_work() as s:
        old = checkpoints.create_checkpoint(s, keys).tree_size
    compromised = keys.current_signing_kid()
    keys.revoke_signing(compromised, reason="key file leaked")
    client.app.state.console_verifier.refresh(force=True)
    client.app.state.console_verifier.wait()
    latest = client.get("/console/audit").text  # the latest checkpoint is the untrusted one, until a new one
    assert 'id="checkpoint-untrusted"' in latest and "BROKEN" not in latest
    make_api_key(db, "platform")
    with db.unit_of_work() as s:
        checkpoints.create_checkpoint(s, keys)
    page = verified_page(client)
    assert "BROKEN" not in page.text and "Intact" in page.text
    start = page.text.index('id="trail-status-region"')
    status = page.text[start : page.text.index("</div>", start)]
    assert 'id="untrusted-checkpoints"' in status
    assert f"checkpoint {old}" in status and "revoked" in status
    assert 'id="checkpoint-untrusted"' not in page.text  # the newest checkpoint is signed with the new key
    client.cookies.set("risk_console_lang", "zh", path="/console")
    zh = client.get("/console/audit/status").text
    assert 'id="untrusted-checkpoints"' in zh and "已吊销" in zh


def test_production_keys_missing_is_a_sentence_on_the_audit_page_not_a_problem_document(client, db, monkeypatch):
    from compliance.keys import KeysMissing

    log_in(client, make_api_key(db, "admin"), "/console/audit")
    page = client.get("/console/audit")

    def missing(*args, **kwargs):
        raise KeysMissing("signing key file signing_keys.json is missing in RISK_KEYS_DIR: run keys init")

    from compliance import checkpoints

    monkeypatch.setattr(checkpoints, "create_checkpoint", missing)  # as a production provider without its files
    r = client.post("/console/audit/checkpoints", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "run keys init" in r.text
    verifier = client.app.state.console_verifier
    verifier.wait()
    monkeypatch.setattr(verifier, "_jwks", missing)
    verifier.refresh(force=True)
    verifier.wait()
    page = client.get("/console/audit")
    assert page.status_code == 200 and "KeysMissing" in page.text and "Intact" not in page.text
