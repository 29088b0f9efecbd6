from datetime import timedelta

from sqlalchemy import func, select

from api.models import IdempotencyRecord
from compliance.models import AuditEntry
from risk_engine.db import utcnow
from risk_engine.parties.models import Dealer
from tests.concurrency import race
from tests.factories import auth, make_api_key
from tests.factories import dealer_body as factory_dealer_body


def dealer_body():
    return factory_dealer_body(name="Dealer", registered_on="2018-05-01")


def count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_replay_returns_the_first_response_byte_for_byte_and_acts_once(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-1"}
    body = dealer_body()
    first = client.post("/v1/dealers", headers=h, json=body)
    audit_after_first = count(db, AuditEntry)
    second = client.post("/v1/dealers", headers=h, json=body)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(db, Dealer) == 1
    assert count(db, AuditEntry) == audit_after_first


def test_replay_with_reordered_json_keys_is_the_same_request(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-2"}
    body = dealer_body()
    first = client.post("/v1/dealers", headers=h, json=body)
    second = client.post("/v1/dealers", headers=h | {"content-type": "application/json"},
                         content=__import__("json").dumps(dict(reversed(list(body.items())))))
    assert second.status_code == 201 and second.content == first.content


def test_same_key_with_a_different_body_is_409(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-3"}
    assert client.post("/v1/dealers", headers=h, json=dealer_body()).status_code == 201
    r = client.post("/v1/dealers", headers=h, json=dealer_body())
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency_key_mismatch"


def test_keys_are_scoped_per_client(client, db):
    a = auth(make_api_key(db, "platform", name="A")) | {"Idempotency-Key": "shared"}
    b = auth(make_api_key(db, "platform", name="B")) | {"Idempotency-Key": "shared"}
    assert client.post("/v1/dealers", headers=a, json=dealer_body()).status_code == 201
    assert client.post("/v1/dealers", headers=b, json=dealer_body()).status_code == 201


def test_a_failed_request_does_not_burn_its_key(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-4"}
    body = dealer_body()
    bad = body | {"guarantor_id": "gua_missing"}
    assert client.post("/v1/dealers", headers=h, json=bad).status_code == 404
    # the key was released: a corrected retry with the same key is a new request, not a 409
    h2 = h | {"Idempotency-Key": "k-4"}
    assert client.post("/v1/dealers", headers=h2, json=bad).status_code == 404
    assert client.post("/v1/dealers", headers=h | {"Idempotency-Key": "k-5"}, json=body).status_code == 201


def test_a_duplicate_while_the_first_is_running_is_409(client, db):
    key = make_api_key(db, "platform")
    h = auth(key) | {"Idempotency-Key": "k-running"}
    body = dealer_body()
    client_id = client.get("/v1/clients/me", headers=auth(key)).json()["client_id"]
    from api.idempotency import request_fingerprint

    with db.unit_of_work() as s:  # the first request has reserved its key and is still running
        s.add(IdempotencyRecord(
            client_id=client_id, key="k-running", method="POST", path="/v1/dealers",
            request_hash=request_fingerprint("POST", "/v1/dealers", __import__("json").dumps(body).encode()),
            state="in_progress", locked_until=utcnow() + timedelta(seconds=60),
            expires_at=utcnow() + timedelta(hours=1)))
    r = client.post("/v1/dealers", headers=h, json=body)
    assert r.status_code == 409
    assert r.json()["code"] == "idempotency_request_in_progress"


def test_a_stale_unfinished_reservation_is_taken_over(client, db):
    key = make_api_key(db, "platform")
    client_id = client.get("/v1/clients/me", headers=auth(key)).json()["client_id"]
    body = dealer_body()
    from api.idempotency import request_fingerprint

    with db.unit_of_work() as s:  # a worker crashed: its transaction never committed anything
        s.add(IdempotencyRecord(
            client_id=client_id, key="k-stale", method="POST", path="/v1/dealers",
            request_hash=request_fingerprint("POST", "/v1/dealers", __import__("json").dumps(body).encode()),
            state="in_progress", locked_until=utcnow() - timedelta(seconds=1),
            expires_at=utcnow() + timedelta(hours=1)))
    r = client.post("/v1/dealers", headers=auth(key) | {"Idempotency-Key": "k-stale"}, json=body)
    assert r.status_code == 201


def test_expired_keys_can_be_reused(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-exp"}
    assert client.post("/v1/dealers", headers=h, json=dealer_body()).status_code == 201
    with db.unit_of_work() as s:
        s.query(IdempotencyRecord).update({IdempotencyRecord.expires_at: utcnow() - timedelta(seconds=1)})
    assert client.post("/v1/dealers", headers=h, json=dealer_body()).status_code == 201


def test_concurrent_retries_act_exactly_once(client, db):
    h = auth(make_api_key(db, "platform")) | {"Idempotency-Key": "k-race"}
    body = dealer_body()
    results = race(lambda: client.post("/v1/dealers", headers=h, json=body), threads=8)
    # every retry waits for the first and gets its response: none fails, one dealer
    assert [r.status_code for r in results] == [201] * 8
    assert len({r.content for r in results}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 7
    assert count(db, Dealer) == 1


def test_concurrent_onboardings_of_one_credit_code_under_different_keys_onboard_it_once(client, db):
    platform = auth(make_api_key(db, "platform"))
    body = dealer_body()
    keys = iter(range(8))
    results = race(
        lambda: client.post("/v1/dealers", headers=platform | {"Idempotency-Key": f"k-{next(keys)}"}, json=body),
        threads=8,
    )
    assert sorted(r.status_code for r in results) == [201] + [409] * 7
    assert count(db, Dealer) == 1


def test_a_credit_code_the_unique_index_refuses_answers_409_not_500(client, db, monkeypatch):
    """What the loser of a race meets on PostgreSQL: both passed the lookup, the index stops the second."""
    from risk_engine.parties import service

    platform = auth(make_api_key(db, "platform"))
    body = dealer_body()
    assert client.post("/v1/dealers", headers=platform, json=body).status_code == 201
    monkeypatch.setattr(service, "_unique_credit_code", lambda *args: None)
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 409 and r.json()["code"] == "dealer_exists"
    assert count(db, Dealer) == 1
