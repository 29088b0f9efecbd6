"""The credit-limit decision through the service and over HTTP: each constraint that can bind the limit,
the outcomes, the record it leaves (inputs, explanation, audit), the ledger change, and who may see it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from compliance import audit, consent
from compliance.audit import canonical_json
from compliance.models import AuditEntry
from limits import ledger
from limits.models import CreditLineRecord
from limits.policy import DEFAULT_GRADE_POLICIES
from risk_engine.decisions import service
from risk_engine.decisions.models import Decision, ReviewCase
from risk_engine.decisions.schemas import CreditLimitRequestIn
from risk_engine.errors import Conflict
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer, make_guarantor

D = Decimal
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BAD_BUT_NO_RULE_FIRES = dict(
    max_payment_delay_days_12m=30, on_time_payment_ratio_12m=0.2, tenure_months=12, return_rate_6m=0.15
)


@pytest.fixture
def features():
    return DictFeatureSource()


def decide(db, dealer, bank, features, **request) -> Decision:
    with db.unit_of_work() as s:
        return service.decide_credit_limit(
            s,
            CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id, **request),
            scorer=tiny_xgb_scorer(),
            features=features,
            clock=lambda: NOW,
            actor="platform:test",
        )


def line_of(db, dealer, bank) -> CreditLineRecord | None:
    with db.session() as s:
        return ledger.find_line(s, dealer.id, bank.id)


# --------------------------------------------------------------------------- each binding constraint


def test_average_purchases_times_the_grade_multiple_bind_a_sound_dealer(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    decision = decide(db, dealer, bank, features)
    policy = DEFAULT_GRADE_POLICIES.policy(decision.grade)
    assert decision.outcome == "approve" and decision.binding_constraint == "capacity"
    assert decision.limit == D("300000.00") * policy.purchase_multiple  # 3.6M a year over 12 months
    line = line_of(db, dealer, bank)
    assert (line.limit, line.grade, line.status) == (decision.limit, decision.grade, "active")
    assert line.expires_on == (NOW + timedelta(days=365)).date()


def test_the_grade_cap_binds_a_dealer_buying_a_lot(db, features):
    bank, dealer = make_bank(db, max_line_amount=D("9000000.00")), make_dealer(db)
    features.set(dealer.id, purchase_amount_12m=60_000_000.0, purchase_amount_3m=15_000_000.0)
    decision = decide(db, dealer, bank, features)
    assert decision.binding_constraint == "grade_cap"
    assert decision.limit == DEFAULT_GRADE_POLICIES.policy(decision.grade).cap


def test_the_bank_products_cap_binds(db, features):
    bank, dealer = make_bank(db, max_line_amount=D("250000.00")), make_dealer(db)
    decision = decide(db, dealer, bank, features)
    assert (decision.outcome, decision.binding_constraint, decision.limit) == (
        "approve",
        "product_cap",
        D("250000.00"),
    )


def test_the_banks_remaining_quota_binds(db, features):
    bank = make_bank(db, quota=D("250000.00"))
    other, dealer = make_dealer(db), make_dealer(db)
    with db.unit_of_work() as s:
        ledger.open_line(
            s,
            dealer_id=other.id,
            bank_id=bank.id,
            limit=D("100000.00"),
            cause=ledger.Cause("test", "t"),
            actor="test",
        )
    decision = decide(db, dealer, bank, features)
    assert (decision.binding_constraint, decision.limit) == ("bank_quota", D("150000.00"))
    with db.session() as s:
        assert ledger.remaining_quota(s, bank.id) == D("0.00")


def test_a_re_rating_counts_the_lines_own_limit_as_available_quota(db, features):
    bank, dealer = make_bank(db, quota=D("700000.00")), make_dealer(db)
    first = decide(db, dealer, bank, features)
    second = decide(db, dealer, bank, features)
    assert (
        first.limit == second.limit
        and second.outcome == "approve"
        and second.binding_constraint == "capacity"
    )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditLineRecord)) == 1
        assert ledger.remaining_quota(s, bank.id) == D("700000.00") - second.limit


def test_the_dealer_never_gets_more_than_it_asked_for(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    decision = decide(db, dealer, bank, features, requested_amount=D("123456.78"))
    assert (decision.binding_constraint, decision.limit) == ("requested", D("123456.78"))


def test_the_guarantee_backed_share_binds(db, features):
    guarantor = make_guarantor(db, coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)
    decision = decide(db, dealer, bank, features, guarantee_amount=D("50000.00"))
    assert (decision.binding_constraint, decision.limit) == ("guarantee_backed", D("100000.00"))


def test_the_guarantors_regulatory_capacity_binds(db, features):
    # 10 % of 1M net assets for one client = 100k of guarantee, at 50 % coverage: a 200k line
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)
    decision = decide(db, dealer, bank, features)
    assert (decision.binding_constraint, decision.limit) == ("guarantor_capacity", D("200000.00"))
    capacity = json.loads(decision.inputs)["guarantor_capacity"]
    assert capacity["binding"] == "single_party" and capacity["headroom"] == "100000.00"
    # the same guarantor has 15 % for the group, 10 % for one client: a second bank gets nothing more
    second_bank = make_bank(db)
    again = decide(db, dealer, second_bank, features)
    assert again.outcome == "decline" and "KO_GUARANTOR_OVER_CAPACITY" in json.loads(again.reason_codes)


def test_a_re_rating_of_a_line_holding_all_the_guarantors_headroom_for_the_dealer_keeps_it(db, features):
    """The line's own guarantee is the guarantor's whole 10 % for the dealer: re-rating it needs no more
    guarantee, so the guarantor is not 'over capacity' for it and the line keeps its limit."""
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)
    first = decide(db, dealer, bank, features)
    assert (first.binding_constraint, first.limit) == ("guarantor_capacity", D("200000.00"))
    again = decide(db, dealer, bank, features)
    assert (again.outcome, again.binding_constraint, again.limit) == (
        "approve",
        "guarantor_capacity",
        D("200000.00"),
    ), again.reason_codes
    assert line_of(db, dealer, bank).limit == D("200000.00")


def test_a_re_rating_after_the_guarantors_net_assets_fell_cuts_the_line_to_its_legal_share(db, features):
    """Net assets fall from 1M to 600k: 10 % is 60k of guarantee, a 120k line at 50 % coverage. The line's
    200k (100k guaranteed) must not survive the re-rating just because it was granted before."""
    from risk_engine.parties.models import Guarantor

    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"))
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)
    assert decide(db, dealer, bank, features).limit == D("200000.00")
    with db.unit_of_work() as s:
        s.get(Guarantor, guarantor.id).net_assets = D("600000.00")
    again = decide(db, dealer, bank, features)
    assert (again.outcome, again.binding_constraint, again.limit) == (
        "approve",
        "guarantor_capacity",
        D("120000.00"),
    ), again.reason_codes
    assert line_of(db, dealer, bank).limit == D("120000.00")


def test_the_guarantors_related_group_cap_counts_dealers_sharing_a_legal_representative(db, features):
    """10 % of 10M net assets per client, 15 % for a client with its related parties. A sister dealer (the
    same legal representative) already has 1.2M guaranteed (a 2.4M line at 50 %): the group has 300k
    left, so this dealer's line is 600k, bound by the related-group cap, not the single-client one."""
    from tests.factories import id_number
    from tests.loan_factories import open_line

    guarantor = make_guarantor(db, net_assets=D("10000000.00"), coverage_ratio=D("0.50"))
    rep = {"name": "同一法人", "id_number": id_number(), "phone": "13800138000"}
    bank = make_bank(db, max_line_amount=D("5000000.00"), quota=D("100000000.00"))
    sister = make_dealer(db, guarantor_id=guarantor.id, legal_representative=rep)
    dealer = make_dealer(db, guarantor_id=guarantor.id, legal_representative=rep)
    stranger = make_dealer(db, guarantor_id=guarantor.id)
    open_line(db, sister, bank, "2400000.00")
    features.set(dealer.id, purchase_amount_12m=60_000_000.0)
    features.set(stranger.id, purchase_amount_12m=60_000_000.0)
    decision = decide(db, dealer, bank, features)
    capacity = json.loads(decision.inputs)["guarantor_capacity"]
    assert capacity["binding"] == "related_group" and capacity["headroom"] == "300000.00"
    assert (decision.binding_constraint, decision.limit) == ("guarantor_capacity", D("600000.00"))
    other = json.loads(decide(db, stranger, bank, features).inputs)["guarantor_capacity"]
    assert other["binding"] == "single_party" and other["headroom"] == "1000000.00"


def test_an_overlay_cap_binds_a_dealer_new_to_the_platform(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    features.set(dealer.id, tenure_months=9)
    decision = decide(db, dealer, bank, features)
    assert (decision.binding_constraint, decision.limit) == ("overlay_cap", D("200000.00"))
    assert "OV_NEW_DEALER_CAP" in json.loads(decision.rule_results)["overlay_codes"]


def test_an_overlay_fraction_halves_the_limit_of_a_concentrated_buyer(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    features.set(dealer.id, supplier_hhi_12m=0.8)
    decision = decide(db, dealer, bank, features)
    multiple = DEFAULT_GRADE_POLICIES.policy(decision.grade).purchase_multiple
    assert decision.binding_constraint == "overlay_fraction"
    assert decision.limit == (D("300000.00") * multiple / 2).quantize(D("0.01"))


def test_an_ineligible_grade_is_declined_and_says_so(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    features.set(dealer.id, **BAD_BUT_NO_RULE_FIRES)
    decision = decide(db, dealer, bank, features)
    assert decision.grade in ("CCC", "CC", "C/D")
    assert (decision.outcome, decision.binding_constraint, decision.limit) == (
        "decline",
        "grade_eligibility",
        0,
    )
    assert json.loads(decision.reason_codes) == ["GRADE_NOT_ELIGIBLE"]
    assert line_of(db, dealer, bank) is None


def test_an_exhausted_bank_quota_declines_naming_the_quota(db, features):
    bank = make_bank(db, quota=D("100000.00"))
    with db.unit_of_work() as s:
        ledger.open_line(
            s,
            dealer_id=make_dealer(db).id,
            bank_id=bank.id,
            limit=D("100000.00"),
            cause=ledger.Cause("test", "t"),
            actor="test",
        )
    decision = decide(db, make_dealer(db), bank, features)
    assert (decision.outcome, decision.binding_constraint) == ("decline", "bank_quota")
    assert json.loads(decision.reason_codes) == ["NO_LIMIT_AVAILABLE"]


# --------------------------------------------------------------------------- outcomes and the record


def test_a_knock_out_declines_with_its_reason_and_changes_no_line(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    features.set(dealer.id, current_days_past_due=45)
    decision = decide(db, dealer, bank, features)
    assert decision.outcome == "decline" and decision.limit == 0
    assert "KO_DPD_OVER_30" in json.loads(decision.reason_codes)
    assert line_of(db, dealer, bank) is None


def test_a_referral_opens_a_review_case_with_the_proposed_limit_and_no_line(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    features.set(dealer.id, current_days_past_due=10)
    decision = decide(db, dealer, bank, features)
    assert decision.outcome == "refer" and json.loads(decision.reason_codes) == ["REF_DPD_1_30"]
    assert decision.limit > 0 and line_of(db, dealer, bank) is None
    with db.session() as s:
        case = s.scalars(select(ReviewCase).where(ReviewCase.decision_id == decision.id)).one()
        assert (case.status, case.proposed_limit) == ("open", decision.limit)


def test_a_cut_below_what_the_line_has_outstanding_is_referred_not_applied(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    first = decide(db, dealer, bank, features)
    with db.unit_of_work() as s:
        ledger.reserve(
            s, first.line_id, first.limit, cause=ledger.Cause("order_loan", "o"), actor="t", on=NOW.date()
        )
    features.set(dealer.id, supplier_hhi_12m=0.8)  # halves the limit
    second = decide(db, dealer, bank, features)
    assert second.outcome == "refer" and json.loads(second.reason_codes) == ["LIMIT_BELOW_EXPOSURE"]
    assert line_of(db, dealer, bank).limit == first.limit


def test_the_decision_keeps_inputs_versions_rule_results_and_a_faithful_explanation(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    decision = decide(db, dealer, bank, features)
    inputs = json.loads(decision.inputs)
    assert inputs["features"]["purchase_amount_12m"] == 3_600_000.0
    assert inputs["features"]["current_days_past_due"] == 0 and inputs["attributes"]["consent_scoring"] is True
    assert inputs["limit_inputs"]["product_cap"] == "2000000.00"
    assert decision.model_version == "test-tiny-xgb-1" and len(decision.model_hash) == 64
    assert decision.ruleset_version == 1 and len(decision.ruleset_digest) == 64
    results = json.loads(decision.rule_results)["results"]
    assert len(results) == 24 and all(r["status"] in ("fired", "not_fired", "unknown") for r in results)
    model = json.loads(decision.explanation)["model"]
    assert sum(model["contributions"].values()) + model["base"] == pytest.approx(model["margin"], abs=1e-5)
    assert Decimal(model["pd"]) == decision.pd and 0 < decision.pd < 1
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.seq == decision.audit_seq)).one()
        payload = json.loads(entry.payload)
        assert (
            entry.action == "decision.credit_limit" and payload["decision_sha256"] == decision.document_sha256
        )
        assert payload["ruleset_digest"] == decision.ruleset_digest
        assert audit.verify(s).intact


def test_the_decision_hash_is_the_rfc8785_hash_of_the_document_a_bank_receives(db, features):
    from compliance.reports import decision_digest

    decision = decide(db, make_dealer(db), make_bank(db), features)
    with db.session() as s:
        stored = service.get_decision(s, decision.id)
        document = service.decision_document(stored)
        assert decision_digest(document) == stored.document_sha256 == decision.document_sha256
        assert service.canonical_document(stored) == canonical_json(document)


def test_a_dealer_who_revoked_consent_to_scoring_is_refused_and_nothing_is_recorded(db, features):
    bank, dealer = make_bank(db), make_dealer(db)
    with db.unit_of_work() as s:
        consent.revoke_all(
            s, dealer.id, "the dealer withdrew", actor="platform:test", at=NOW - timedelta(days=1)
        )
    with pytest.raises(consent.ConsentMissing):
        decide(db, dealer, bank, features)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture
def wired(client, features):
    client.app.state.scorer = tiny_xgb_scorer()
    client.app.state.feature_source = features
    return client


def test_a_credit_limit_request_over_http_answers_the_decision_and_the_line_follows(wired, db):
    bank, dealer = make_bank(db), make_dealer(db)
    platform = auth(make_api_key(db, "platform"))
    body = {"dealer_id": dealer.id, "bank_id": bank.id, "request_ref": "REQ-1"}
    r = wired.post("/v1/credit-limit-requests", json=body, headers=platform | {"Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    decision = r.json()
    assert decision["outcome"] == "approve" and decision["binding_constraint"] == "capacity"
    assert isinstance(decision["limit"], str) and isinstance(decision["pd"], str)
    assert decision["explanation"]["limit"]["binding"] == "capacity"
    replay = wired.post("/v1/credit-limit-requests", json=body, headers=platform | {"Idempotency-Key": "k1"})
    assert replay.json() == decision and replay.headers["Idempotent-Replayed"] == "true"
    lines = wired.get(f"/v1/dealers/{dealer.id}/credit-line", headers=platform).json()["lines"]
    assert [(x["bank_id"], x["limit"], x["available"], x["status"]) for x in lines] == [
        (bank.id, decision["limit"], decision["limit"], "active")
    ]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1


def test_retries_racing_the_first_request_get_its_decision_and_make_no_other(wired, db):
    from compliance.models import AuditEntry
    from tests.concurrency import race

    bank, dealer = make_bank(db), make_dealer(db)
    headers = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "race-1"}
    body = {"dealer_id": dealer.id, "bank_id": bank.id}
    results = race(lambda: wired.post("/v1/credit-limit-requests", json=body, headers=headers), threads=6)
    assert [r.status_code for r in results] == [201] * 6, [r.text for r in results if r.status_code != 201]
    assert len({r.content for r in results}) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 1
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("%credit%"))))
        assert sorted(actions) == ["credit_line.open", "decision.credit_limit"]  # one decision's, no other


def test_without_a_scorer_a_request_is_503_and_records_nothing(client, db):
    bank, dealer = make_bank(db), make_dealer(db)
    r = client.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": dealer.id, "bank_id": bank.id},
        headers=auth(make_api_key(db, "platform")),
    )
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0


def test_unknown_dealer_and_float_amounts_are_problems_naming_the_field(wired, db):
    bank = make_bank(db)
    platform = auth(make_api_key(db, "platform"))
    r = wired.post(
        "/v1/credit-limit-requests", json={"dealer_id": "dlr_nope", "bank_id": bank.id}, headers=platform
    )
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "dealer_id"
    r = wired.post(
        "/v1/credit-limit-requests",
        json={"dealer_id": "x", "bank_id": bank.id, "requested_amount": 1.5},
        headers=platform,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.requested_amount"


def test_banks_see_only_their_own_decisions_and_lines(wired, db):
    mine, theirs = make_bank(db), make_bank(db)
    dealer = make_dealer(db)
    platform = auth(make_api_key(db, "platform"))
    ids = {}
    for bank in (mine, theirs):
        r = wired.post(
            "/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id}, headers=platform
        )
        ids[bank.id] = r.json()["id"]
    bank_key = auth(make_api_key(db, "bank", bank=mine))
    assert wired.get(f"/v1/decisions/{ids[mine.id]}", headers=bank_key).status_code == 200
    assert wired.get(f"/v1/decisions/{ids[theirs.id]}", headers=bank_key).status_code == 404
    listed = wired.get("/v1/decisions", params={"since": "2000-01-01T00:00:00Z"}, headers=bank_key).json()
    assert [d["id"] for d in listed] == [ids[mine.id]]
    assert (
        wired.get("/v1/decisions", params={"since": "2000-01-01T00:00:00"}, headers=bank_key).status_code
        == 422
    )
    lines = wired.get(f"/v1/dealers/{dealer.id}/credit-line", headers=bank_key).json()["lines"]
    assert [x["bank_id"] for x in lines] == [mine.id]
    other_dealer = make_dealer(db)
    assert wired.get(f"/v1/dealers/{other_dealer.id}/credit-line", headers=bank_key).status_code == 404
    officer = auth(make_api_key(db, "risk_officer"))
    full = wired.get(f"/v1/decisions/{ids[theirs.id]}", headers=officer).json()
    assert (
        full["inputs"]["features"]
        and full["rules"]["results"]
        and full["explanation"]["model"]["contributions"]
    )
    assert wired.get(f"/v1/decisions/{ids[mine.id]}", headers=platform).status_code == 403


def test_the_answer_to_a_request_is_the_view_of_the_stored_decision_and_hashes_to_it(wired, db, features):
    """The answer is written from the canonical document: it holds what GET and ``decision_view`` of the
    stored record hold, for an approval and for a referral with its review case."""
    bank, sound, late = make_bank(db), make_dealer(db), make_dealer(db)
    features.set(late.id, current_days_past_due=10)
    platform, officer = auth(make_api_key(db, "platform")), auth(make_api_key(db, "risk_officer"))
    for dealer, outcome in ((sound, "approve"), (late, "refer")):
        r = wired.post("/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id}, headers=platform)
        answer = r.json()
        assert r.status_code == 201 and answer["outcome"] == outcome
        with db.session() as s:
            view = service.jsonable(service.decision_view(s, service.get_decision(s, answer["id"])))
        assert answer == view == wired.get(f"/v1/decisions/{answer['id']}", headers=officer).json()
        assert (answer["review"] is None) == (outcome == "approve")
        document = {k: v for k, v in answer.items() if k not in ("decision_sha256", "audit_seq", "review")}
        assert hashlib.sha256(canonical_json(document).encode()).hexdigest() == answer["decision_sha256"]



# --------------------------------------------------------------------------- what the engine itself knows


def _alert(db, dealer, kind, *, resolution=None, severity="warning", at=NOW - timedelta(days=3)):
    from loan_monitoring import alerting
    from loan_monitoring.alerts import Alert, Severity
    from loan_monitoring.models import Alert as AlertRow

    finding = Alert(kind, Severity(severity), f"dealer:{dealer.id}:test:{kind}", "中文", "english", {}, (),
                    dealer_id=dealer.id)
    with db.unit_of_work() as s:
        alerting.raise_alerts(s, [finding], source="fund_usage", actor="test", auto_actions=(), now=at)
    if resolution is not None:
        with db.unit_of_work() as s:
            row = s.scalars(select(AlertRow).where(AlertRow.dealer_id == dealer.id)).one()
            alerting.resolve_alert(s, row.id, resolution=resolution, reason="checked", actor="officer:test")


def test_an_order_loan_more_than_30_days_past_due_knocks_out_though_trade_payments_are_current(db, features):
    from sqlalchemy import update

    from loan_monitoring.models import OrderLoan
    from tests.factories import make_supplier
    from tests.loan_factories import make_approved_loan, make_order, open_line

    bank, dealer = make_bank(db), make_dealer(db)
    order = make_order(db, dealer, make_supplier(db), placed_at=NOW - timedelta(days=120))
    loan_id = make_approved_loan(db, dealer, bank, order, open_line(db, dealer, bank))
    with db.unit_of_work() as s:  # as the delinquency job leaves a loan 45 days overdue
        s.execute(update(OrderLoan).where(OrderLoan.id == loan_id).values(state="overdue", days_past_due=45))
    decision = decide(db, dealer, bank, features)  # current_days_past_due (trade payments) is 0
    assert decision.outcome == "decline" and "KO_DPD_OVER_30" in json.loads(decision.reason_codes)
    attributes = json.loads(decision.inputs)["attributes"]
    assert attributes["loan_days_past_due"] == 45 and attributes["open_alert_count"] == 0


def test_buying_from_a_supplier_paid_into_the_dealers_own_account_is_circular_trade(db, features):
    """No related-party link was reported, but the engine holds the same settlement account for both."""
    from tests.factories import account_number, make_supplier
    from tests.loan_factories import make_order

    bank, account = make_bank(db), account_number()
    insider, outsider = make_dealer(db, account_number=account), make_dealer(db)
    supplier = make_supplier(db, account_number=account)
    for dealer in (insider, outsider):
        make_order(db, dealer, supplier, placed_at=NOW - timedelta(days=30))
    decision = decide(db, insider, bank, features)
    assert decision.outcome == "decline"
    assert json.loads(decision.reason_codes) == ["KO_RELATED_PARTY_CIRCULAR_TRADE"]
    assert decide(db, outsider, bank, features).outcome == "approve"


def test_an_alert_asking_for_a_notch_notches_the_grade_at_the_next_review(db, features):
    from loan_monitoring import alerting
    from loan_monitoring.alerts import Action, Alert, Severity

    bank, dealer = make_bank(db), make_dealer(db)
    before = decide(db, dealer, bank, features)
    finding = Alert("purchase_volume_drop", Severity.CRITICAL, f"dealer:{dealer.id}:ews:purchase_volume_drop",
                    "中文", "english", {}, (Action.NOTCH_GRADE,), dealer_id=dealer.id)
    with db.unit_of_work() as s:
        alerting.raise_alerts(s, [finding], source="early_warning", actor="test", now=NOW - timedelta(days=1))
    after = decide(db, dealer, bank, features)
    codes = json.loads(after.reason_codes)
    assert after.outcome == "refer" and codes == ["REF_OPEN_ALERTS"]
    assert (after.model_grade, before.grade) == (before.model_grade, before.model_grade)
    results = {r["code"]: r["status"] for r in json.loads(after.rule_results)["results"]}
    assert results["OV_EARLY_WARNING_NOTCH"] == "fired" and after.grade != after.model_grade
    assert json.loads(after.inputs)["attributes"]["alert_grade_notches"] == 1


def test_an_open_alert_refers_and_a_resolved_or_info_level_one_does_not(db, features):
    bank, alerted, resolved, informed = make_bank(db), make_dealer(db), make_dealer(db), make_dealer(db)
    _alert(db, alerted, "purchase_volume_drop")
    _alert(db, resolved, "purchase_volume_drop", resolution="remediated")
    _alert(db, informed, "supplier_concentration", severity="info")
    first = decide(db, alerted, bank, features)
    assert first.outcome == "refer" and json.loads(first.reason_codes) == ["REF_OPEN_ALERTS"]
    assert decide(db, resolved, bank, features).outcome == "approve"
    assert decide(db, informed, bank, features).outcome == "approve"


def test_duplicate_financing_found_by_monitoring_knocks_out_unless_it_was_a_false_positive(db, features):
    bank, confirmed, cleared = make_bank(db), make_dealer(db), make_dealer(db)
    _alert(db, confirmed, "duplicate_financing", resolution="confirmed")
    _alert(db, cleared, "duplicate_financing", resolution="false_positive")
    decision = decide(db, confirmed, bank, features)
    assert decision.outcome == "decline" and "KO_DUPLICATE_FINANCING" in json.loads(decision.reason_codes)
    assert decide(db, cleared, bank, features).outcome == "approve"


def test_every_default_rule_is_judged_for_a_dealer_the_engine_knows(db, features):
    """No default rule is left *unknown* for want of an input the engine holds: loans, alerts, guarantor,
    prior loans. (The blacklist comes with the features here; in production from RISK_BLACKLIST_FILE.)"""
    decision = decide(db, make_dealer(db), make_bank(db), features, requested_amount=D("100000.00"))
    unknown = [r["code"] for r in json.loads(decision.rule_results)["results"] if r["status"] == "unknown"]
    assert unknown == []


# --------------------------------------------------------------------------- concurrency


def decide_concurrently(db, features, *, dealers: int, quota: str) -> tuple[list[Decision], str]:
    import threading

    bank = make_bank(db, quota=D(quota))
    parties = [make_dealer(db) for _ in range(dealers)]
    start = threading.Barrier(dealers)
    decisions: list[Decision] = []
    errors: list[BaseException] = []

    def worker(dealer) -> None:
        start.wait()
        try:
            decisions.append(decide(db, dealer, bank, features))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(d,)) for d in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return decisions, bank.id


def assert_the_quota_is_shared_exactly(db, decisions, bank_id, quota: str) -> None:
    granted = sorted((d.limit for d in decisions if d.outcome == "approve"), reverse=True)
    full = granted[0]
    assert sum(granted) == D(quota)  # every fen of the quota is granted, never one more
    assert all(g == full for g in granted[:-1]) and granted[-1] <= full
    assert [d.binding_constraint for d in decisions if d.outcome == "decline"] == ["bank_quota"] * (
        len(decisions) - len(granted))
    with db.session() as s:
        assert ledger.remaining_quota(s, bank_id) == 0
        assert audit.verify(s).intact


def test_concurrent_decisions_at_one_bank_on_postgresql_share_its_quota_exactly(pg_db, features):
    decisions, bank_id = decide_concurrently(pg_db, features, dealers=12, quota="1500000.00")
    assert_the_quota_is_shared_exactly(pg_db, decisions, bank_id, "1500000.00")


def test_concurrent_decisions_at_one_bank_on_sqlite_share_its_quota_exactly(sqlite_db, features):
    db = sqlite_db
    decisions, bank_id = decide_concurrently(db, features, dealers=12, quota="1500000.00")
    assert_the_quota_is_shared_exactly(db, decisions, bank_id, "1500000.00")


def test_a_bank_polling_by_audit_seq_misses_no_decision_that_committed_late(wired, db, features):
    """``decided_at`` is read before a decision waits for its locks, so a decision can commit after one
    stamped later: polling ``since`` the last time read skips it, the ``after_seq`` cursor does not."""
    bank, other_bank = make_bank(db), make_bank(db)
    first_dealer, late_dealer = make_dealer(db), make_dealer(db)

    def decide_at(dealer, bank, at):
        with db.unit_of_work() as s:
            return service.decide_credit_limit(
                s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
                features=features, clock=lambda: at, actor="platform:test",
            )

    first = decide_at(first_dealer, bank, NOW + timedelta(seconds=5))
    decide_at(first_dealer, other_bank, NOW + timedelta(seconds=6))
    late = decide_at(late_dealer, bank, NOW)  # stamped before `first`, committed after it
    bank_key = auth(make_api_key(db, "bank", bank=bank))

    since = wired.get("/v1/decisions", params={"since": "2026-11-25T10:00:05Z"}, headers=bank_key).json()
    assert [d["id"] for d in since] == [first.id]  # the time cursor skips `late`
    page = wired.get("/v1/decisions", params={"after_seq": 0, "limit": 1}, headers=bank_key).json()
    assert [d["id"] for d in page] == [first.id]
    page = wired.get("/v1/decisions", params={"after_seq": page[-1]["audit_seq"]}, headers=bank_key).json()
    assert [d["id"] for d in page] == [late.id]  # the other bank's decision in between is not shown
    assert wired.get("/v1/decisions", params={"after_seq": late.audit_seq}, headers=bank_key).json() == []
    r = wired.get("/v1/decisions", params={"after_seq": -1}, headers=bank_key)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after_seq"


def test_the_platform_may_name_the_dealer_by_its_own_id(wired, db, features):
    bank, dealer = make_bank(db), make_dealer(db, external_id="D-88")
    make_dealer(db, external_id=dealer.id)  # another dealer whose platform id spells the first's engine id
    platform = auth(make_api_key(db, "platform"))
    by_platform_id = wired.post("/v1/credit-limit-requests", json={"dealer_id": "D-88", "bank_id": bank.id},
                                headers=platform)
    assert by_platform_id.status_code == 201 and by_platform_id.json()["dealer_id"] == dealer.id
    by_engine_id = wired.post("/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id},
                              headers=platform)
    assert by_engine_id.json()["dealer_id"] == dealer.id  # the engine's id wins


# --------------------------------------------------------------------------- the guarantor's controlling parties


def test_a_dealer_that_controls_its_guarantor_gets_no_guarantee_backed_limit_from_it(db, features):
    """融资担保公司监督管理条例 Art. 17: no guarantee for the guarantor's controlling shareholder or actual
    controller. The dealer whose credit code the guarantor lists as a controlling party gets nothing backed
    by it, and the decision says why; another dealer of the same guarantor keeps its 10 % share."""
    from tests.factories import credit_code

    controller_code = credit_code()
    guarantor = make_guarantor(db, net_assets=D("1000000.00"), coverage_ratio=D("0.50"),
                               controlling_parties=[controller_code])
    bank = make_bank(db)
    controller = make_dealer(db, credit_code=controller_code, guarantor_id=guarantor.id)
    stranger = make_dealer(db, guarantor_id=guarantor.id)

    decision = decide(db, controller, bank, features)
    assert (decision.outcome, decision.binding_constraint, decision.limit) == (
        "decline", "guarantor_capacity", D("0.00"))
    assert "KO_GUARANTOR_OVER_CAPACITY" in json.loads(decision.reason_codes)
    capacity = json.loads(decision.inputs)["guarantor_capacity"]
    assert (capacity["binding"], capacity["headroom"]) == ("controlling_party", "0.00")
    assert line_of(db, controller, bank) is None

    other = decide(db, stranger, bank, features)
    assert (other.outcome, other.binding_constraint, other.limit) == (
        "approve", "guarantor_capacity", D("200000.00"))


def test_a_guarantors_controlling_parties_are_kept_echoed_and_audited(client, db):
    from tests.factories import credit_code

    codes = [credit_code(), credit_code()]
    body = dict(name="担保公司", credit_code=credit_code("91330000MA"), net_assets="50000000.00",
                controlling_parties=[codes[0], codes[1], codes[0]])
    r = client.post("/v1/guarantors", json=body, headers=auth(make_api_key(db, "admin")))
    assert r.status_code == 201, r.text
    assert r.json()["controlling_parties"] == codes  # a code named twice is kept once
    guarantor_id = r.json()["id"]
    assert client.get(f"/v1/guarantors/{guarantor_id}",
                      headers=auth(make_api_key(db, "platform"))).json()["controlling_parties"] == codes
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.subject_id == guarantor_id)).one()
    assert entry.action == "guarantor.created"
    assert json.loads(entry.payload)["controlling_parties"] == codes


def test_a_bad_check_character_among_the_controlling_parties_is_refused_naming_it(client, db):
    from tests.factories import credit_code

    good = credit_code()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    body = dict(name="担保公司", credit_code=credit_code("91330000MA"), net_assets="50000000.00",
                controlling_parties=[good, bad])
    r = client.post("/v1/guarantors", json=body, headers=auth(make_api_key(db, "admin")))
    assert r.status_code == 422, r.text
    assert [(e["field"], e["type"]) for e in r.json()["errors"]] == [
        ("body.controlling_parties[1]", "credit_code_check")]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "guarantor.created")) == 0


# --------------------------------------------------------------------------- blacklist screening


def test_without_a_blacklist_the_decision_is_referred_as_not_screened_and_with_one_it_is_not(db, tmp_path):
    from compliance.kyb import load_blacklist
    from risk_engine import bootstrap
    from tests.decision_support import GOOD_DEALER

    bank, dealer = make_bank(db), make_dealer(db)
    unscreened = DictFeatureSource(default={k: v for k, v in GOOD_DEALER.items() if k != "blacklisted"})
    path = tmp_path / "blacklist.csv"
    assert bootstrap.write_demo_blacklist(path) and not bootstrap.write_demo_blacklist(path)  # never overwrites

    def decide_with(blacklist):
        with db.unit_of_work() as s:
            return service.decide_credit_limit(
                s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
                features=unscreened, clock=lambda: NOW, actor="platform:test", blacklist=blacklist)

    blind = decide_with(None)
    assert blind.outcome == "refer" and "REF_BLACKLIST_NOT_SCREENED" in blind.reason_codes
    assert json.loads(blind.inputs)["attributes"]["blacklist_screened"] is False
    screened = decide_with(load_blacklist(path))  # the demo's list names nobody on this platform
    assert "REF_BLACKLIST_NOT_SCREENED" not in screened.reason_codes and screened.outcome == "approve"
    inputs = json.loads(screened.inputs)["attributes"]
    assert inputs["blacklist_screened"] is True and inputs["blacklisted"] is False


def test_a_decision_whose_dealer_changed_guarantor_meanwhile_is_refused_on_postgresql(pg_db, features):
    """The decision reads the dealer, then locks its guarantor; an admin moving the dealer to another
    guarantor in between would leave the new line guaranteed by a book that never counted it."""
    from risk_engine.parties import terms
    from risk_engine.parties.schemas import GuarantorAssignmentIn

    old, new = make_guarantor(pg_db), make_guarantor(pg_db)
    bank, dealer = make_bank(pg_db), make_dealer(pg_db, guarantor_id=old.id)

    class MovesTheDealerWhileScoring(DictFeatureSource):
        def features_for(self, session, dealer_id, as_of):  # runs after the dealer row is read, before locks
            with pg_db.unit_of_work() as other:
                terms.assign_guarantor(other, dealer.id, GuarantorAssignmentIn(guarantor_id=new.id, reason="moved"),
                                       actor="admin:test", today=NOW.date())
            return super().features_for(session, dealer_id, as_of)

    with pytest.raises(Conflict) as refused, pg_db.unit_of_work() as s:
        service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=MovesTheDealerWhileScoring(), clock=lambda: NOW, actor="platform:test")
    assert refused.value.code == "guarantor_changed"
    assert line_of(pg_db, dealer, bank) is None


def test_the_credit_line_and_the_decisions_filter_take_the_platforms_dealer_id_too(wired, db):
    bank, dealer = make_bank(db), make_dealer(db, external_id="PLATFORM-D-7")
    platform = auth(make_api_key(db, "platform"))
    r = wired.post("/v1/credit-limit-requests", json={"dealer_id": "PLATFORM-D-7", "bank_id": bank.id},
                   headers=platform | {"Idempotency-Key": "by-external"})
    assert r.status_code == 201, r.text
    lines = wired.get("/v1/dealers/PLATFORM-D-7/credit-line", headers=platform)
    assert lines.status_code == 200 and lines.json()["dealer_id"] == dealer.id
    assert wired.get("/v1/dealers/NOBODY/credit-line", headers=platform).status_code == 404
    bank_key = auth(make_api_key(db, "bank", bank=bank))
    listed = wired.get("/v1/decisions", params={"dealer_id": "PLATFORM-D-7"}, headers=bank_key).json()
    assert [d["id"] for d in listed] == [r.json()["id"]]


def test_a_polling_cursor_beyond_any_sequence_is_a_clear_422_not_a_500(wired, db):
    bank_key = auth(make_api_key(db, "bank", bank=make_bank(db)))
    r = wired.get("/v1/decisions", params={"after_seq": 2**63}, headers=bank_key)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.after_seq"
    assert wired.get("/v1/decisions", params={"after_seq": 2**63 - 1}, headers=bank_key).json() == []  # BIGINT


def test_a_guarantee_that_expired_yesterday_in_beijing_backs_nothing_even_before_utc_midnight(db, features):
    """17:00 UTC on the 25th is 01:00 on the 26th in Beijing: a guarantee good through the 25th has lapsed,
    and a line granted then runs its term from the Beijing date."""
    guarantor = make_guarantor(db, guarantee_expires_on=datetime(2026, 11, 25).date())
    bank, dealer = make_bank(db), make_dealer(db, guarantor_id=guarantor.id)

    def decide_at(moment):
        with db.unit_of_work() as s:
            decision = service.decide_credit_limit(
                s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
                features=features, clock=lambda: moment, actor="platform:test")
            return json.loads(decision.inputs)

    afternoon_in_beijing = decide_at(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    assert afternoon_in_beijing["guarantor_capacity"] is not None
    after_midnight_in_beijing = decide_at(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    assert after_midnight_in_beijing["guarantor_capacity"] is None  # expired: backs nothing
    assert after_midnight_in_beijing["limit_inputs"]["guarantee"]["committed_amount"] == "0.00"


def test_a_bank_asking_for_another_banks_dealer_gets_the_answer_an_unknown_dealer_gets(wired, db):
    """A foreign id answers 404 (CONTRACT): whether the dealer exists on the platform, and the engine's id behind
    the platform's, are not the bank's to learn."""
    theirs, ours = make_bank(db), make_bank(db)
    make_dealer(db, external_id="PLATFORM-D-8")
    r = wired.post("/v1/credit-limit-requests", json={"dealer_id": "PLATFORM-D-8", "bank_id": theirs.id},
                   headers=auth(make_api_key(db, "platform")) | {"Idempotency-Key": "their-line"})
    assert r.status_code == 201, r.text
    bank_key = auth(make_api_key(db, "bank", bank=ours))

    def answer(reference):
        r = wired.get(f"/v1/dealers/{reference}/credit-line", headers=bank_key)
        return r.status_code, {k: str(v).replace(reference, "<ref>") for k, v in r.json().items()
                               if k not in ("instance", "request_id")}

    assert answer("PLATFORM-D-8") == answer("PLATFORM-NOBODY")
    assert r.json()["dealer_id"] not in str(answer("PLATFORM-D-8"))
