"""An officer's day in a real browser: log in with the keyboard, find a referred decision in the queue, read
its waterfall, resolve it with a reason and find the audit entry; an override above the threshold waits for
a second officer, who approves it in another browser session. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import httpx
import pytest

from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer

D = Decimal


@pytest.fixture(scope="module")
def platform(live_server):
    live_server.app.state.scorer = tiny_xgb_scorer()
    live_server.app.state.feature_source = DictFeatureSource()
    db = live_server.db
    return {
        "bank": make_bank(db, name="Harbour Bank", max_line_amount=D("3000000.00")),
        "platform_key": make_api_key(db, "platform"),
        "officer_a": make_api_key(db, "risk_officer", name="Officer Wang"),
        "officer_b": make_api_key(db, "risk_officer", name="Officer Li"),
    }


def referred_decision(live_server, platform, name: str) -> dict:
    dealer = make_dealer(live_server.db, name=name)
    live_server.app.state.feature_source.set(
        dealer.id, current_days_past_due=10, purchase_amount_12m=2_000_000.0
    )
    r = httpx.post(
        f"{live_server.url}/v1/credit-limit-requests",
        headers=auth(platform["platform_key"]),
        json={"dealer_id": dealer.id, "bank_id": platform["bank"].id},
        timeout=30,
    )
    assert r.status_code == 201 and r.json()["outcome"] == "refer", r.text
    return r.json()


def log_in_with_keyboard(page, url: str, key: str) -> None:
    page.goto(f"{url}/console/reviews")
    assert "/console/login" in page.url
    page.keyboard.press("Tab")  # skip link
    field = page.get_by_label("API key")
    field.focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: urlparse(u).path == "/console/reviews")


def test_an_officer_resolves_a_referred_decision_and_sees_the_audit_entry(
    live_server, platform, page_factory, artifacts
):
    decision = referred_decision(live_server, platform, "Riverside Trading Co.")
    page = page_factory()
    log_in_with_keyboard(page, live_server.url, platform["officer_a"])
    row = page.locator("tr", has_text="Riverside Trading Co.")
    assert row.count() == 1
    page.screenshot(path=str(artifacts / "01-review-queue.png"), full_page=True)

    row.get_by_role("link", name=re.compile(r"^rev_")).click()
    page.wait_for_url(re.compile(rf"/console/decisions/{decision['id']}"))
    assert page.locator("#outcome").inner_text() == "refer"
    waterfall = page.locator("figure.waterfall svg")
    assert waterfall.is_visible()
    assert waterfall.locator("g.waterfall-step").count() >= 3
    assert "Base value" in waterfall.locator("g.waterfall-base").text_content()
    assert "Final value" in waterfall.locator("g.waterfall-final").text_content()
    assert page.locator("#binding").inner_text() != "—"
    page.screenshot(path=str(artifacts / "02-decision-waterfall.png"), full_page=True)

    page.get_by_label("approve").check()
    assert page.get_by_label("Limit to grant").is_disabled()  # console.js: the limit is for "adjust" only
    page.get_by_role("textbox", name="Reason").fill("One late invoice, paid since; trade is steady.")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r"done=resolve\.done"))
    assert page.locator("#review-status").inner_text() == "resolved"
    assert "One late invoice, paid since" in page.locator("#resolution-summary").inner_text()
    history = page.locator("#review table.audit-entries")
    assert history.locator("tr[data-action='review.resolved']").count() == 1
    page.screenshot(path=str(artifacts / "03-resolved.png"), full_page=True)

    page.get_by_role("link", name="Audit").click()
    # the verification runs in the background; console.js polls and swaps the status in
    page.wait_for_selector("#trail-status.ok", timeout=30_000)
    assert "Intact" in page.locator("#trail-status").inner_text()
    resolved = page.locator("table.audit-entries tr[data-action='review.resolved']").first
    assert "One late invoice, paid since" in resolved.inner_text()
    page.screenshot(path=str(artifacts / "04-audit.png"), full_page=True)


def test_a_second_officer_approves_an_override_above_the_threshold(
    live_server, platform, page_factory, artifacts
):
    decision = referred_decision(live_server, platform, "Hilltop Supplies Ltd.")
    maker = page_factory()
    log_in_with_keyboard(maker, live_server.url, platform["officer_a"])
    maker.goto(f"{live_server.url}/console/decisions/{decision['id']}")
    maker.get_by_role("button", name="Assign to me").click()
    maker.wait_for_url(re.compile(r"done=resolve\.assigned"))
    maker.get_by_label("adjust the limit").check()
    limit = maker.get_by_label("Limit to grant")
    assert limit.is_enabled() and limit.evaluate("e => e === document.activeElement")
    limit.fill("1,200,000.00")
    maker.get_by_role("textbox", name="Reason").fill("Guarantor covers 80%; two years of clean trade.")
    maker.get_by_role("button", name="Resolve").click()
    maker.wait_for_url(re.compile(r"done=resolve\.pending"))
    assert maker.locator("#review-status").inner_text() == "awaiting second approval"
    assert maker.locator("#own-override").is_visible()  # the maker cannot approve
    maker.screenshot(path=str(artifacts / "05-override-pending.png"), full_page=True)

    checker = page_factory()
    log_in_with_keyboard(checker, live_server.url, platform["officer_b"])
    checker.get_by_label("Status").select_option("awaiting_second_approval")
    checker.get_by_role("button", name="Filter").click()
    checker.locator("tr", has_text="Hilltop Supplies Ltd.").get_by_role(
        "link", name=re.compile(r"^rev_")
    ).click()
    checker.get_by_label("approve the override").check()
    checker.get_by_role("textbox", name="Reason").fill("Checked the guarantee contract.")
    checker.get_by_role("button", name="Submit").click()
    checker.wait_for_url(re.compile(r"done=second\.approved"))
    summary = checker.locator("#resolution-summary").inner_text()
    assert "1,200,000.00" in summary and "approved by" in summary
    history = checker.locator("#review table.audit-entries")
    assert history.locator("tr[data-action='review.override_proposed']").count() == 1
    assert history.locator("tr[data-action='review.resolved']").count() == 1
    checker.screenshot(path=str(artifacts / "06-override-approved.png"), full_page=True)


def test_the_console_speaks_chinese_after_the_switch_and_remembers_it(
    live_server, platform, page_factory, artifacts
):
    page = page_factory()
    log_in_with_keyboard(page, live_server.url, platform["officer_b"])
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "审核队列"
    page.goto(f"{live_server.url}/console/audit")
    assert page.locator("h1").first.inner_text() == "审计记录"
    page.screenshot(path=str(artifacts / "07-audit-zh.png"), full_page=True)


def test_an_approval_refused_for_a_revoked_consent_is_said_on_the_page_and_the_form_is_kept(
    live_server, platform, page_factory, artifacts
):
    decision = referred_decision(live_server, platform, "Lakeside Wholesale Co.")
    headers = auth(platform["platform_key"])
    consents = httpx.get(
        f"{live_server.url}/v1/dealers/{decision['dealer_id']}/consents", headers=headers, timeout=30
    ).json()
    (sharing,) = [c for c in consents if c["purpose"] == "data_sharing_with_bank"]
    r = httpx.post(
        f"{live_server.url}/v1/dealers/{decision['dealer_id']}/consents/{sharing['id']}/revocation",
        headers=headers,
        json={"reason": "withdrawn by letter"},
        timeout=30,
    )
    assert r.status_code < 300, r.text
    page = page_factory()
    log_in_with_keyboard(page, live_server.url, platform["officer_a"])
    page.goto(f"{live_server.url}/console/decisions/{decision['id']}")
    page.get_by_label("approve").check()
    page.get_by_role("textbox", name="Reason").fill("Paid since; trade is steady.")
    page.get_by_role("button", name="Resolve").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "data_sharing_with_bank" in alert.inner_text()
    assert page.locator("#review-status").inner_text() == "open"
    assert page.get_by_label("approve").is_checked()
    assert page.get_by_role("textbox", name="Reason").input_value() == "Paid since; trade is steady."
    assert page.get_by_label("Limit to grant").is_disabled()
    page.screenshot(path=str(artifacts / "08-approval-refused-consent.png"), full_page=True)

    page.get_by_label("decline").check()
    page.get_by_role("textbox", name="Reason").fill("The dealer withdrew its consent to share with the bank.")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(r"done=resolve\.done"))
    assert page.locator("#review-status").inner_text() == "resolved"
