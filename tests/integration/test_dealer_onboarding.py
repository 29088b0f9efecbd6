"""A dealer the platform brings with its history: ``onboarded_at`` gives its real start on the platform, so
its tenure and the months it is rated on count from then, not from the API call."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from compliance.models import AuditEntry
from risk_engine.parties.models import Dealer
from scoring.snapshots import SnapshotFeatureSource
from tests.factories import auth, dealer_body, make_api_key


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


def test_a_dealer_onboarded_with_its_platform_start_is_rated_on_its_real_tenure(client, db, platform):
    joined = datetime.now(UTC) - timedelta(days=730)
    r = client.post("/v1/dealers", headers=platform,
                    json=dealer_body(onboarded_at=joined.isoformat(), registered_on="2015-06-01"))
    assert r.status_code == 201, r.text
    dealer_id = r.json()["id"]
    assert r.json()["onboarded_at"].startswith(joined.date().isoformat())
    with db.session() as s:
        assert s.get(Dealer, dealer_id).onboarded_at == joined
        tenure = SnapshotFeatureSource().features_for(s, dealer_id, datetime.now(UTC)).values["tenure_months"]
    assert 23 <= tenure <= 24.1


def test_without_it_the_dealer_starts_today(client, db, platform):
    r = client.post("/v1/dealers", headers=platform, json=dealer_body())
    assert r.status_code == 201
    started = datetime.fromisoformat(r.json()["onboarded_at"].replace("Z", "+00:00"))
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(("onboarded_at", "registered_on", "reason"), [
    (datetime.now(UTC) + timedelta(days=2), "2015-06-01", "future"),
    (datetime(2014, 1, 1, tzinfo=UTC), "2015-06-01", "registered"),
    ("2024-01-01T00:00:00", "2015-06-01", "timezone"),
])
def test_a_start_in_the_future_before_registration_or_without_a_zone_is_refused(
    client, platform, onboarded_at, registered_on, reason
):
    value = onboarded_at if isinstance(onboarded_at, str) else onboarded_at.isoformat()
    r = client.post("/v1/dealers", headers=platform, json=dealer_body(onboarded_at=value, registered_on=registered_on))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body.onboarded_at"
    assert reason in r.json()["errors"][0]["reason"] or reason == "timezone"


def test_a_start_a_few_seconds_ahead_of_the_engines_clock_is_taken_as_now(client, db, platform):
    # the platform's clock runs slightly ahead: its "just joined" is not refused, nor stored in the future, where
    # the dealer would not yet be known to the point-in-time features that rate it
    r = client.post("/v1/dealers", headers=platform,
                    json=dealer_body(onboarded_at=(datetime.now(UTC) + timedelta(seconds=30)).isoformat()))
    assert r.status_code == 201, r.text
    with db.session() as s:
        assert s.get(Dealer, r.json()["id"]).onboarded_at <= datetime.now(UTC)


@pytest.mark.parametrize("joined", [None, datetime(2024, 3, 1, 8, 30, tzinfo=UTC)])
def test_the_onboarding_audit_entry_records_the_start_the_dealer_is_rated_from(client, db, platform, joined):
    body = dealer_body(registered_on="2015-06-01") | ({"onboarded_at": joined.isoformat()} if joined else {})
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 201, r.text
    with db.session() as s:
        stored = s.get(Dealer, r.json()["id"]).onboarded_at
        payload = json.loads(s.scalars(select(AuditEntry.payload).where(
            AuditEntry.action == "dealer.onboarded", AuditEntry.subject_id == r.json()["id"])).one())
    assert payload["onboarded_at"] is not None
    assert datetime.fromisoformat(payload["onboarded_at"].replace("Z", "+00:00")) == stored


@pytest.mark.parametrize("external_id", ["", "has space", "a/b", "x" * 65])
def test_a_platform_id_that_could_not_be_used_in_a_path_or_an_event_is_refused_naming_it(client, platform,
                                                                                       external_id):
    r = client.post("/v1/dealers", headers=platform, json=dealer_body(external_id=external_id))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.external_id", r.text


def test_a_platform_id_of_letters_digits_and_dot_underscore_colon_dash_is_taken(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=dealer_body(external_id="GD:shop_1.a-2"))
    assert r.status_code == 201 and r.json()["external_id"] == "GD:shop_1.a-2"
