"""GET /v1/decisions/{id}/report: a bank verifies its report against the served JWKS alone."""
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import select

from compliance.models import AccessLogEntry
from compliance.reports import verify_decision_report
from risk_engine.decisions import service
from risk_engine.decisions.schemas import CreditLimitRequestIn
from tests.decision_support import DictFeatureSource, tiny_xgb_scorer
from tests.factories import auth, make_api_key, make_bank, make_dealer

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def decided(db):
    bank, other = make_bank(db, name="Mine"), make_bank(db, name="Other")
    dealer = make_dealer(db)
    with db.unit_of_work() as s:
        decision = service.decide_credit_limit(
            s, CreditLimitRequestIn(dealer_id=dealer.id, bank_id=bank.id), scorer=tiny_xgb_scorer(),
            features=DictFeatureSource(), clock=lambda: NOW, actor="platform:test")
    return decision, bank, other


def test_a_bank_pulls_its_report_and_verifies_it_with_the_jwks(client, db, decided):
    decision, bank, _ = decided
    key = make_api_key(db, "bank", bank=bank)
    r = client.get(f"/v1/decisions/{decision.id}/report", headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/jose")
    jwks = client.get("/.well-known/jwks.json").json()
    verified = verify_decision_report(r.text, jwks)
    assert verified.decision["id"] == decision.id
    assert verified.payload["audit"]["seq"] == decision.audit_seq
    # an independent JOSE library agrees on the signature
    header = jwt.get_unverified_header(r.text)
    public = jwt.PyJWK({k: v for k, v in next(j for j in jwks["keys"] if j["kid"] == header["kid"]).items()
                        if k in ("kty", "crv", "x", "kid")}, algorithm="EdDSA")
    jwt.api_jws.decode_complete(r.text, key=public.key, algorithms=["EdDSA"])
    with db.session() as s:
        logged = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "decision.report.read")).all()
    assert [e.outcome for e in logged] == ["granted"]


def test_another_bank_gets_404_and_the_attempt_is_logged(client, db, decided):
    decision, _, other = decided
    key = make_api_key(db, "bank", bank=other)
    r = client.get(f"/v1/decisions/{decision.id}/report", headers=auth(key))
    assert r.status_code == 404
    with db.session() as s:
        logged = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "decision.report.read")).all()
    assert [(e.outcome, e.subject_id) for e in logged] == [("not_found", decision.id)]


@pytest.mark.parametrize("requested", [800000, "700000", "700000.5", "7E+5"])
def test_an_amount_sent_without_two_places_still_gives_a_report_that_verifies(client, db, requested):
    """Money is carried as the two-place amount it is: the decision hashes what the database gives back."""
    from tests.decision_support import tiny_xgb_scorer as scorer

    bank, dealer = make_bank(db), make_dealer(db)
    client.app.state.scorer, client.app.state.feature_source = scorer(), DictFeatureSource()
    platform = auth(make_api_key(db, "platform"))
    r = client.post("/v1/credit-limit-requests", json={"dealer_id": dealer.id, "bank_id": bank.id,
                                                       "requested_amount": requested},
                    headers=platform | {"Idempotency-Key": f"amount-{requested}"})
    assert r.status_code == 201, r.text
    assert r.json()["requested_amount"] == f"{float(requested):.2f}"
    report = client.get(f"/v1/decisions/{r.json()['id']}/report", headers=auth(make_api_key(db, "bank", bank=bank)))
    verified = verify_decision_report(report.text, client.get("/.well-known/jwks.json").json())
    assert verified.decision["requested_amount"] == f"{float(requested):.2f}"
