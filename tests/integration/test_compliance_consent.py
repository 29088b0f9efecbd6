"""Consent gates every use of a dealer's data; export shows everything held; erasure keeps credit records."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from compliance import consent
from compliance.models import AuditEntry, DealerConsent
from risk_engine.parties.models import Dealer
from tests.factories import auth, consent_body, credit_code, dealer_body, make_api_key, make_dealer

NOW = datetime.now(UTC)


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


@pytest.fixture
def admin(db):
    return auth(make_api_key(db, "admin"))


def require(db, dealer_id, purpose="credit_scoring", at=None):
    with db.session() as s:
        return consent.require_consent(s, dealer_id, purpose, at or datetime.now(UTC))


# --- pure rules -----------------------------------------------------------------------------------------


class Terms:
    def __init__(self, purpose="credit_scoring", granted=-10, expires=None, revoked=None):
        day = timedelta(days=1)
        self.purpose, self.granted_at = purpose, NOW + granted * day
        self.expires_at = None if expires is None else NOW + expires * day
        self.revoked_at = None if revoked is None else NOW + revoked * day


@pytest.mark.parametrize("terms, status", [
    (Terms(), "active"), (Terms(granted=1), "pending"), (Terms(expires=-1), "expired"),
    (Terms(expires=1), "active"), (Terms(revoked=-1), "revoked"), (Terms(revoked=1), "active"),
])
def test_consent_status_at_a_moment(terms, status):
    assert consent.consent_status(terms, NOW) == status


def test_only_a_consent_for_the_same_purpose_counts():
    assert consent.valid_consent([Terms("loan_monitoring")], "credit_scoring", NOW) is None
    assert consent.valid_consent([Terms("credit_scoring", revoked=-1), Terms()], "credit_scoring", NOW)


# --- onboarding -------------------------------------------------------------------------------------------


def test_onboarding_requires_consent_for_credit_scoring(client, platform):
    body = dealer_body()
    del body["consent"]
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["body.consent"]
    r = client.post("/v1/dealers", headers=platform,
                    json=dealer_body(consent=consent_body("loan_monitoring")))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.consent.purposes"
    future = (NOW + timedelta(days=2)).isoformat()
    r = client.post("/v1/dealers", headers=platform,
                    json=dealer_body(consent=consent_body(granted_at=future)))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.consent.granted_at"


def test_onboarding_records_one_consent_per_purpose_and_scoring_is_allowed(client, db, platform):
    r = client.post("/v1/dealers", headers=platform,
                    json=dealer_body(consent=consent_body("credit_scoring", "data_sharing_with_bank")))
    dealer_id = r.json()["id"]
    listed = client.get(f"/v1/dealers/{dealer_id}/consents", headers=platform).json()
    assert sorted((c["purpose"], c["status"]) for c in listed) == [
        ("credit_scoring", "active"), ("data_sharing_with_bank", "active")]
    assert require(db, dealer_id).purpose == "credit_scoring"
    with pytest.raises(consent.ConsentMissing) as refused:
        require(db, dealer_id, "loan_monitoring")
    assert refused.value.status == 403 and refused.value.code == "consent_missing"


# --- grant and revoke ------------------------------------------------------------------------------------


def test_revocation_blocks_scoring_from_then_on(client, db, platform):
    dealer = make_dealer(db)
    (scoring,) = [c for c in client.get(f"/v1/dealers/{dealer.id}/consents", headers=platform).json()
                  if c["purpose"] == "credit_scoring"]
    before = datetime.now(UTC)
    r = client.post(f"/v1/dealers/{dealer.id}/consents/{scoring['id']}/revocation", headers=platform,
                    json={"reason": "dealer withdrew consent by letter 2026-11-20"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked"
    with pytest.raises(consent.ConsentMissing):
        require(db, dealer.id)
    assert require(db, dealer.id, at=before - timedelta(seconds=1))  # a decision made before still stands
    again = client.post(f"/v1/dealers/{dealer.id}/consents/{scoring['id']}/revocation", headers=platform,
                        json={"reason": "twice"})
    assert again.status_code == 409 and again.json()["code"] == "consent_already_revoked"
    with db.session() as s:
        actions = [e.action for e in s.query(AuditEntry).filter(AuditEntry.subject_id == dealer.id)]
    assert actions.count("consent.revoked") == 1

    r = client.post(f"/v1/dealers/{dealer.id}/consents", headers=platform, json={
        "purpose": "credit_scoring", "scope": "renewed", "evidence": "esign:renewal",
        "granted_at": datetime.now(UTC).isoformat(), "expires_at": (NOW + timedelta(days=365)).isoformat()})
    assert r.status_code == 201, r.text
    assert require(db, dealer.id).id == r.json()["id"]


def test_an_expired_consent_no_longer_allows_scoring(db):
    expires = NOW + timedelta(days=30)
    dealer = make_dealer(db, consent=consent_body(granted_at="2024-01-01T00:00:00Z",
                                                  expires_at=expires.isoformat()))
    assert require(db, dealer.id, at=datetime(2024, 6, 1, tzinfo=UTC))
    assert require(db, dealer.id)
    with pytest.raises(consent.ConsentMissing):
        require(db, dealer.id, at=expires)


def test_a_dealer_whose_consent_has_already_expired_is_not_onboarded(client, db, platform):
    body = dealer_body(consent=consent_body(granted_at="2024-01-01T00:00:00Z", expires_at="2025-01-01T00:00:00Z"))
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422
    assert "body.consent.expires_at" in [e["field"] for e in r.json()["errors"]]
    with db.session() as s:
        assert s.query(Dealer).filter_by(credit_code=body["credit_code"]).count() == 0


def test_the_onboarding_audit_entry_of_an_individual_business_does_not_keep_its_name(db):
    """An individual business's name is usually its owner's: erasure replaces it, so the audit trail, which
    is never rewritten, must not hold it."""
    person = make_dealer(db, credit_code=credit_code("92440300MA"), name="张三五金店")
    company = make_dealer(db, name="广州建材有限公司")
    with db.session() as s:
        payloads = {e.subject_id: json.loads(e.payload) for e in s.query(AuditEntry).filter_by(
            action="dealer.onboarded")}
    assert "name" not in payloads[person.id] and "张三" not in json.dumps(payloads[person.id], ensure_ascii=False)
    assert payloads[company.id]["name"] == "广州建材有限公司"


def test_consents_of_another_dealer_or_a_missing_one_are_404(client, db, platform):
    a, b = make_dealer(db), make_dealer(db)
    (first, *_) = client.get(f"/v1/dealers/{a.id}/consents", headers=platform).json()
    r = client.post(f"/v1/dealers/{b.id}/consents/{first['id']}/revocation", headers=platform,
                    json={"reason": "x"})
    assert r.status_code == 404
    assert client.get("/v1/dealers/dlr_missing/consents", headers=platform).status_code == 404
    grant = {"purpose": "credit_scoring", "scope": "s", "evidence": "e", "granted_at": NOW.isoformat()}
    assert client.post("/v1/dealers/dlr_missing/consents", headers=platform, json=grant).status_code == 404


# --- export and erasure ------------------------------------------------------------------------------------


def test_export_holds_everything_and_says_what_erasure_would_do(client, db, platform, admin):
    rep = {"name": "王五", "id_number": "11010519491231002X", "phone": "13712345678"}
    dealer_id = client.post("/v1/dealers", headers=platform, json=dealer_body(
        legal_representative=rep, account_number="6222000011110000")).json()["id"]
    r = client.get(f"/v1/dealers/{dealer_id}/export", headers=admin)
    assert r.status_code == 200, r.text
    sections = r.json()["sections"]
    assert sections["personal_data"]["handling"] == "erasable"
    assert sections["personal_data"]["data"]["legal_representative"] == rep
    assert sections["business_registration"]["handling"] == "retained"
    assert sections["credit_records"]["handling"] == "retained_pseudonymised"
    assert [e["action"] for e in sections["credit_records"]["data"]][0] == "dealer.onboarded"
    assert len(sections["consents"]["data"]) == 3
    assert client.get(f"/v1/dealers/{dealer_id}/export", headers=platform).status_code == 403
    log = client.get(f"/v1/access-log?subject={dealer_id}&action=dealer.export", headers=admin).json()
    assert len(log["items"]) == 1


def test_erasure_wipes_personal_data_keeps_credit_records_and_stops_scoring(client, db, platform, admin):
    rep = {"name": "赵六", "id_number": "11010519491231002X", "phone": "13712345678"}
    dealer_id = client.post("/v1/dealers", headers=platform, json=dealer_body(
        legal_representative=rep, account_number="6222000011110000")).json()["id"]
    r = client.post(f"/v1/dealers/{dealer_id}/erasure", headers=admin | {"Idempotency-Key": "erase-1"},
                    json={"reason": "data subject request DSR-42"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["erased"]) == {"legal_representative.name", "legal_representative.id_number",
                                   "legal_representative.phone", "account_number"}
    assert "credit_records" in body["retained"] and len(body["consents_revoked"]) == 3

    with db.session() as s:
        dealer = s.get(Dealer, dealer_id)
        assert dealer.legal_rep_id_number_enc is None and dealer.legal_rep_id_number_index is None
        assert dealer.account_number_index is None and dealer.erased_at is not None
        assert all(c.revoked_at is not None for c in s.query(DealerConsent).filter_by(dealer_id=dealer_id))
    with pytest.raises(consent.ConsentMissing):
        require(db, dealer_id)

    export = client.get(f"/v1/dealers/{dealer_id}/export", headers=admin).json()
    assert export["erased_at"] is not None
    personal = export["sections"]["personal_data"]
    assert personal["erased"] is True
    assert personal["data"]["legal_representative"] == {"name": None, "id_number": None, "phone": None}
    assert export["sections"]["credit_records"]["erased"] is False
    assert "dealer.erased" in [e["action"] for e in export["sections"]["credit_records"]["data"]]
    assert rep["id_number"] not in str(export)

    again = client.post(f"/v1/dealers/{dealer_id}/erasure", headers=admin, json={"reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "dealer_already_erased"
    replay = client.post(f"/v1/dealers/{dealer_id}/erasure", headers=admin | {"Idempotency-Key": "erase-1"},
                         json={"reason": "data subject request DSR-42"})
    assert replay.status_code == 200 and replay.content == r.content
    new_consent = {"purpose": "credit_scoring", "scope": "s", "evidence": "e", "granted_at": NOW.isoformat()}
    r = client.post(f"/v1/dealers/{dealer_id}/consents", headers=platform, json=new_consent)
    assert r.status_code == 409 and r.json()["code"] == "dealer_erased"
    assert client.get(f"/v1/dealers/{dealer_id}", headers=platform).json()["erased_at"] is not None


def test_an_individual_business_loses_its_name_to_the_pseudonym(client, db, platform, admin):
    from compliance.kyb import compute_credit_code_check_char

    body17 = "92440300MA5F00001"
    dealer = make_dealer(db, credit_code=body17 + compute_credit_code_check_char(body17),
                         name="张三建材经营部")
    r = client.post(f"/v1/dealers/{dealer.id}/erasure", headers=admin, json={"reason": "DSR"})
    assert "name" in r.json()["erased"]
    shown = client.get(f"/v1/dealers/{dealer.id}", headers=platform).json()
    assert shown["name"] == f"erased dealer {dealer.id}"


def test_erasure_is_for_admins(client, db, platform):
    dealer = make_dealer(db)
    r = client.post(f"/v1/dealers/{dealer.id}/erasure", headers=platform, json={"reason": "x"})
    assert r.status_code == 403


# --- the access log ----------------------------------------------------------------------------------------


def test_the_access_log_filters_by_client_subject_and_time(client, db, admin):
    officer_key = make_api_key(db, "risk_officer", name="officer A")
    other_key = make_api_key(db, "risk_officer", name="officer B")
    a, b = make_dealer(db, keys=client.app.state.keys), make_dealer(db, keys=client.app.state.keys)
    client.get(f"/v1/dealers/{a.id}/pii", headers=auth(officer_key))
    client.get(f"/v1/dealers/{b.id}/pii", headers=auth(officer_key))
    client.get(f"/v1/dealers/{a.id}/pii", headers=auth(other_key))
    everything = client.get("/v1/access-log", headers=admin).json()["items"]
    assert len(everything) == 3
    officer_a = everything[0]["client_id"]
    mine = client.get(f"/v1/access-log?client={officer_a}", headers=admin).json()["items"]
    assert {e["subject_id"] for e in mine} == {a.id, b.id}
    about_a = client.get(f"/v1/access-log?subject={a.id}", headers=admin).json()["items"]
    assert len(about_a) == 2
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert client.get("/v1/access-log", headers=admin, params={"since": later}).json()["items"] == []
    page = client.get("/v1/access-log?limit=2", headers=admin).json()
    assert len(page["items"]) == 2 and page["next_after"] is not None
    rest = client.get(f"/v1/access-log?limit=2&after={page['next_after']}", headers=admin).json()
    assert len(rest["items"]) == 1 and rest["next_after"] is None
    assert client.get("/v1/access-log", headers=auth(officer_key)).status_code == 403


def test_an_export_of_an_unknown_dealer_is_refused_and_the_attempt_is_logged(client, admin):
    assert client.get("/v1/dealers/dlr_missing/export", headers=admin).status_code == 404
    log = client.get("/v1/access-log?subject=dlr_missing", headers=admin).json()["items"]
    assert [(e["action"], e["outcome"]) for e in log] == [("dealer.export", "not_found")]


# --- the export's credit, loan and trade sections ----------------------------------------------------------


DOMAIN_SECTIONS = ["credit_decisions", "review_cases", "credit_lines", "order_loans", "alerts", "trade"]


def dealer_with_a_decision_a_line_a_loan_and_an_alert(db, client, bank, bank_headers):
    """A loan world (line, order, disbursed loan paid to the supplier), a referred credit-limit decision with
    its review case, and an early-warning alert."""
    from loan_monitoring import alerting
    from loan_monitoring.alerts import Alert, Severity
    from risk_engine.decisions import service
    from risk_engine.decisions.schemas import CreditLimitRequestIn
    from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
    from tests.loan_factories import disbursed_loan, loan_world

    world = loan_world(db, client.app.state.keys, bank=bank)
    features = DictFeatureSource()
    features.set(world.dealer.id, current_days_past_due=10)
    with db.unit_of_work() as s:
        decision = service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=world.dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=features, actor="platform:test")
        decision_id = decision.id
    loan_id = disbursed_loan(db, client, world, bank_headers)
    finding = Alert("purchase_volume_drop", Severity.WARNING, f"dealer:{world.dealer.id}:ews:purchase_volume_drop",
                    "采购量下降", "purchase volume dropped", {"drop": "-0.42"}, dealer_id=world.dealer.id)
    with db.unit_of_work() as s:
        alerting.raise_alerts(s, [finding], source="early_warning", actor="test", auto_actions=())
    return world, decision_id, loan_id


def test_the_export_holds_the_dealers_decisions_lines_loans_and_alerts_and_nobody_elses(client, db, admin):
    from tests.factories import make_bank

    bank = make_bank(db)
    bank_headers = auth(make_api_key(db, "bank", bank=bank))
    world, decision_id, loan_id = dealer_with_a_decision_a_line_a_loan_and_an_alert(db, client, bank, bank_headers)
    other, other_decision_id, other_loan_id = dealer_with_a_decision_a_line_a_loan_and_an_alert(
        db, client, bank, bank_headers)

    r = client.get(f"/v1/dealers/{world.dealer.id}/export", headers=admin)
    assert r.status_code == 200, r.text
    sections = r.json()["sections"]
    assert list(sections) == ["personal_data", "business_registration", "consents", "credit_records",
                              *DOMAIN_SECTIONS, "access_log"]
    for name in DOMAIN_SECTIONS:
        assert sections[name]["handling"] == "retained_pseudonymised" and sections[name]["basis"]
        assert sections[name]["erased"] is False

    [decision] = sections["credit_decisions"]["data"]
    assert (decision["id"], decision["outcome"], decision["reason_codes"]) == (decision_id, "refer",
                                                                                ["REF_DPD_1_30"])
    assert isinstance(decision["pd"], str) and isinstance(decision["explanation"], dict)
    assert decision["decided_at"].endswith("+00:00")
    [case] = sections["review_cases"]["data"]
    assert (case["decision_id"], case["status"]) == (decision_id, "open")

    [line] = sections["credit_lines"]["data"]
    assert (line["id"], line["limit"], line["utilised"], line["available"]) == (
        world.line_id, "500000.00", "80000.00", "420000.00")
    assert [m["kind"] for m in line["movements"]] == ["open", "reserve", "utilise"]

    [loan] = sections["order_loans"]["data"]
    assert (loan["id"], loan["state"], loan["outstanding_principal"]) == (loan_id, "disbursed", "80000.00")
    [tranche] = loan["disbursements"]
    assert (tranche["amount"], tranche["payee_account"]) == ("80000.00", world.supplier_account)
    assert "payee_account_enc" not in tranche and "payee_account_index" not in tranche
    assert loan["repayments"] == [] and loan["delinquency"] == {"count": 0, "truncated": False, "items": []}

    [alert] = sections["alerts"]["data"]
    assert (alert["kind"], alert["dealer_id"], alert["evidence"]) == ("purchase_volume_drop", world.dealer.id,
                                                                      {"drop": "-0.42"})
    orders = sections["trade"]["data"]["orders"]
    assert (orders["count"], orders["truncated"], orders["items"][0]["id"]) == (1, False, world.order.id)
    assert orders["items"][0]["amount"] == "100000.00"

    text = r.text
    for foreign in (other.dealer.id, other_decision_id, other.line_id, other_loan_id, other.order.id,
                    other.supplier_account):
        assert foreign not in text
    log = client.get(f"/v1/access-log?subject={world.dealer.id}&action=dealer.export", headers=admin).json()
    [entry] = log["items"]
    assert entry["detail"]["sections"] == list(sections) and world.supplier_account not in str(entry)


def test_trade_and_daily_snapshots_in_the_export_are_their_count_and_the_most_recent_items(
        client, db, admin, monkeypatch):
    from decimal import Decimal

    from compliance import privacy
    from loan_monitoring.models import DelinquencySnapshot
    from tests.loan_factories import loan_world, make_approved_loan, make_order

    world = loan_world(db, client.app.state.keys)
    placed = [NOW - timedelta(days=d) for d in (30, 10, 20)]
    ids = [world.order.id] + [make_order(db, world.dealer, world.supplier, placed_at=at).id for at in placed]
    loan_id = make_approved_loan(db, world.dealer, world.bank, world.order, world.line_id)
    days = [NOW.date() - timedelta(days=d) for d in (3, 1, 2)]
    with db.unit_of_work() as s:
        s.add_all(DelinquencySnapshot(loan_id=loan_id, as_of=day, days_past_due=0, bucket="current",
                                      amount_past_due=Decimal("0.00"), outstanding_principal=Decimal("0.00"),
                                      in_default=False, state="approved") for day in days)
    monkeypatch.setattr(privacy, "RECENT_ITEMS", 2)
    sections = client.get(f"/v1/dealers/{world.dealer.id}/export", headers=admin).json()["sections"]
    orders = sections["trade"]["data"]["orders"]
    assert (orders["count"], orders["truncated"]) == (4, True)
    assert [o["id"] for o in orders["items"]] == [ids[2], ids[3]]  # newest first
    [loan] = sections["order_loans"]["data"]
    snapshots = loan["delinquency"]
    assert (snapshots["count"], snapshots["truncated"]) == (3, True)
    assert [i["as_of"] for i in snapshots["items"]] == [days[1].isoformat(), days[2].isoformat()]


def test_erasure_names_the_domain_sections_it_keeps(client, db, admin):
    dealer = make_dealer(db, keys=client.app.state.keys)
    r = client.post(f"/v1/dealers/{dealer.id}/erasure", headers=admin, json={"reason": "DSR-7"})
    assert r.status_code == 200, r.text
    assert set(DOMAIN_SECTIONS) <= set(r.json()["retained"]) and "personal_data" not in r.json()["retained"]


def test_every_process_has_the_domain_sections_without_building_the_app():
    import subprocess
    import sys

    probe = "from compliance import privacy; print(' '.join(s.name for s in privacy.export_sections()))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["personal_data", "business_registration", "consents", "credit_records",
                                   *DOMAIN_SECTIONS, "access_log"]


# --- a decision for a bank needs consent to share with it (PIPL Art. 23) ----------------------------------


def _revoke_sharing(client, dealer_id, platform):
    (sharing,) = [c for c in client.get(f"/v1/dealers/{dealer_id}/consents", headers=platform).json()
                  if c["purpose"] == "data_sharing_with_bank"]
    r = client.post(f"/v1/dealers/{dealer_id}/consents/{sharing['id']}/revocation", headers=platform,
                    json={"reason": "dealer no longer agrees to its data going to banks"})
    assert r.status_code == 200, r.text


def test_every_missing_purpose_is_named_and_one_query_serves_them_all(db):
    dealer = make_dealer(db, consent=consent_body("credit_scoring"))
    with db.session() as s:
        with pytest.raises(consent.ConsentMissing) as refused:
            consent.require_consents(s, dealer.id, ("credit_scoring", "data_sharing_with_bank", "loan_monitoring"))
        in_force = consent.require_consents(s, dealer.id, ["credit_scoring"])
    assert refused.value.extra["missing_purposes"] == ["data_sharing_with_bank", "loan_monitoring"]
    assert "data_sharing_with_bank and loan_monitoring" in str(refused.value)
    assert list(in_force) == ["credit_scoring"] and in_force["credit_scoring"].purpose == "credit_scoring"
    with db.session() as s, pytest.raises(ValueError):
        consent.require_consents(s, dealer.id, ("marketing",))


def test_a_limit_request_without_consent_to_share_with_banks_is_refused_and_records_nothing(client, db, platform):
    from risk_engine.decisions.models import Decision
    from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
    from tests.factories import make_bank

    client.app.state.scorer = tiny_xgb_scorer()
    client.app.state.feature_source = DictFeatureSource()
    bank = make_bank(db)
    dealer = make_dealer(db, consent=consent_body("credit_scoring", "loan_monitoring"))
    with db.session() as s:
        entries = s.query(AuditEntry).count()
    r = client.post("/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id},
                    headers=platform | {"Idempotency-Key": "no-sharing-1"})
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "consent_missing" and "data_sharing_with_bank" in r.json()["detail"]
    with db.session() as s:
        assert s.query(Decision).count() == 0 and s.query(AuditEntry).count() == entries


def test_an_order_loan_application_after_the_sharing_consent_was_revoked_is_refused(client, db, platform):
    from risk_engine.decisions.models import Decision
    from tests.loan_factories import line_figures, loan_world

    world = loan_world(db, client.app.state.keys)
    _revoke_sharing(client, world.dealer.id, platform)
    r = client.post("/v1/order-loans", headers=platform | {"Idempotency-Key": "no-sharing-loan"}, json={
        "dealer_id": world.dealer.id, "bank_id": world.bank.id, "order_id": world.order.id,
        "amount": "80000.00", "tenor_days": 90})
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "consent_missing" and "data_sharing_with_bank" in r.json()["detail"]
    assert line_figures(db, world.line_id)["reserved"] == 0
    with db.session() as s:
        assert s.query(Decision).filter(Decision.dealer_id == world.dealer.id).count() == 0
