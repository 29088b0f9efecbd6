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
