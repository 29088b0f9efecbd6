"""Logging in to the console: an officer's or admin's key opens a revocable session in an HttpOnly
cookie; every form carries a CSRF token; other roles, bad keys and forged forms are refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api.console.models import ConsoleSession
from api.console.sessions import csrf_token
from compliance.models import AuditEntry
from tests.factories import make_api_key, make_bank

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client, key: str, next_path: str = "/console/reviews"):
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"api_key": key, "csrf_token": csrf_of(page.text), "next": next_path},
        follow_redirects=False,
    )


@pytest.fixture
def officer_key(db):
    return make_api_key(db, "risk_officer", name="Officer Wang")


def test_root_and_console_lead_to_the_login_page(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"
    response = client.get("/console/audit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/audit"


def test_an_officer_logs_in_into_an_httponly_samesite_cookie_and_only_its_hash_is_stored(
    client, db, officer_key
):
    response = log_in(client, officer_key, "/console/audit")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/audit"
    cookie = response.headers["set-cookie"]
    assert "risk_console=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    token = client.cookies.get("risk_console")
    with db.session() as s:
        row = s.scalars(select(ConsoleSession)).one()
        assert row.token_hash != token and len(row.token_hash) == 64
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "console.session_opened")).one()
        assert entry.subject_id == row.id
    page = client.get("/console/audit")
    assert page.status_code == 200
    assert "Officer Wang" in page.text
    assert csrf_of(page.text) == csrf_token(token)


def test_a_platform_or_bank_key_cannot_log_in(client, db):
    bank = make_bank(db)
    for key in (make_api_key(db, "platform"), make_api_key(db, "bank", bank=bank)):
        response = log_in(client, key)
        assert response.status_code == 401
        assert "Only risk-officer and admin keys" in response.text
    assert "risk_console" not in client.cookies


def test_an_unknown_key_is_refused_with_a_friendly_message(client):
    response = log_in(client, "rk_not-a-key")
    assert response.status_code == 401
    assert "unknown or revoked" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_a_login_form_without_its_csrf_token_is_refused(client, officer_key):
    client.get("/console/login")
    response = client.post(
        "/console/login", data={"api_key": officer_key, "csrf_token": "forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "risk_console" not in client.cookies


def test_logout_revokes_the_session_so_a_copied_cookie_is_useless(client, db, officer_key):
    log_in(client, officer_key)
    token = client.cookies.get("risk_console")
    page = client.get("/console/audit")
    response = client.post("/console/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?bye=1"
    client.cookies.set("risk_console", token, path="/console")
    assert client.get("/console/audit", follow_redirects=False).status_code == 303
    with db.session() as s:
        assert s.scalars(select(ConsoleSession)).one().revoked_at is not None
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "console.session_closed")).one()


def test_a_post_without_the_session_csrf_token_changes_nothing(client, db, officer_key):
    log_in(client, officer_key)
    response = client.post("/console/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/console/audit").status_code == 200  # still logged in


def test_revoking_the_api_key_ends_its_console_sessions(client, db, officer_key):
    from api.clients import hash_key
    from api.models import ApiClient
    from risk_engine.db import utcnow

    log_in(client, officer_key)
    with db.session() as s:
        s.scalars(
            select(ApiClient).where(ApiClient.key_hash == hash_key(officer_key))
        ).one().revoked_at = utcnow()
        s.commit()
    assert client.get("/console/audit", follow_redirects=False).status_code == 303


def test_next_never_leads_off_the_console(client, officer_key):
    response = log_in(client, officer_key, "https://evil.example/")
    assert response.headers["location"] == "/console/reviews"
    client.cookies.clear()
    response = log_in(client, officer_key, "//evil.example/console")
    assert response.headers["location"] == "/console/reviews"


def test_the_language_switch_keeps_the_choice_in_a_cookie(client, officer_key):
    log_in(client, officer_key)
    page = client.get("/console/audit")
    assert "Audit trail" in page.text
    client.post(
        "/console/language", data={"lang": "zh", "csrf_token": csrf_of(page.text), "next": "/console/audit"}
    )
    page = client.get("/console/audit")
    assert "审计记录" in page.text and 'lang="zh-CN"' in page.text
    assert client.cookies.get("risk_console_lang") == "zh"
