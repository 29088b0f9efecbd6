import pytest

from tests.factories import auth, make_api_key, make_bank


def test_request_without_a_key_is_401_problem(client):
    r = client.get("/v1/clients/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401


def test_request_with_an_unknown_key_is_401(client):
    r = client.get("/v1/clients/me", headers=auth("rk_not-a-real-key"))
    assert r.status_code == 401
    assert "unknown" in r.json()["detail"]


def test_created_key_authenticates_its_client(client, db):
    key = make_api_key(db, "platform", name="platform A")
    r = client.get("/v1/clients/me", headers=auth(key))
    assert r.status_code == 200
    assert r.json()["role"] == "platform"


def test_key_is_stored_only_as_a_hash(db):
    from api.models import ApiClient

    key = make_api_key(db, "admin")
    with db.session() as s:
        stored = s.query(ApiClient).one()
    assert key not in (stored.key_hash, stored.key_prefix)
    assert len(stored.key_hash) == 64


def test_wrong_role_gets_403_problem(client, db):
    key = make_api_key(db, "bank", bank=make_bank(db))
    r = client.post("/v1/dealers", headers=auth(key), json={})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "role 'bank'" in r.json()["detail"]


def test_bank_client_sees_its_own_bank_and_404_for_another(client, db):
    mine, other = make_bank(db, name="Mine"), make_bank(db, name="Other")
    key = make_api_key(db, "bank", bank=mine)
    assert client.get(f"/v1/banks/{mine.id}", headers=auth(key)).status_code == 200
    r = client.get(f"/v1/banks/{other.id}", headers=auth(key))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    listed = client.get("/v1/banks", headers=auth(key)).json()
    assert [b["id"] for b in listed] == [mine.id]


def test_bank_client_must_be_bound_to_a_bank(db):
    from risk_engine.errors import InvalidInput

    with pytest.raises(InvalidInput, match="bound to a bank"):
        make_api_key(db, "bank")


def test_revoked_key_is_refused(client, db):
    from api.models import ApiClient
    from risk_engine.db import utcnow

    key = make_api_key(db, "admin")
    with db.unit_of_work() as s:
        s.query(ApiClient).update({ApiClient.revoked_at: utcnow()})
    assert client.get("/v1/clients/me", headers=auth(key)).status_code == 401


def _revoke_all(db):
    from api.models import ApiClient
    from risk_engine.db import utcnow

    with db.unit_of_work() as s:
        s.query(ApiClient).update({ApiClient.revoked_at: utcnow()})


def test_a_key_in_use_is_remembered_for_the_cache_ttl_then_read_again(client, db):
    key = make_api_key(db, "admin")
    assert client.get("/v1/clients/me", headers=auth(key)).status_code == 200
    _revoke_all(db)
    # within RISK_API_KEY_CACHE_SECONDS the worker still knows the key ...
    assert client.get("/v1/clients/me", headers=auth(key)).status_code == 200
    # ... and once its entry lapses the revocation holds
    cache = client.app.state.principals
    for hash_, (_, principal) in list(cache._entries.items()):
        cache._entries[hash_] = (0.0, principal)
    assert client.get("/v1/clients/me", headers=auth(key)).status_code == 401


def test_with_no_cache_a_revocation_holds_at_once(db, settings):
    from tests.conftest import make_client

    with make_client(db, settings.model_copy(update={"api_key_cache_seconds": 0})) as client:
        key = make_api_key(db, "admin")
        assert client.get("/v1/clients/me", headers=auth(key)).status_code == 200
        _revoke_all(db)
        assert client.get("/v1/clients/me", headers=auth(key)).status_code == 401


def test_unknown_keys_are_never_remembered(client, db):
    assert client.get("/v1/clients/me", headers=auth("rk_not-yet")).status_code == 401
    assert client.app.state.principals._entries == {}
