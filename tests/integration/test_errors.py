"""Every bad input gets a 4xx problem+json naming the field, never a 500."""
import pytest

from tests.factories import auth, credit_code, dealer_body, make_api_key

PROBLEM = "application/problem+json"


@pytest.fixture
def platform(db):
    return auth(make_api_key(db, "platform"))


def good_dealer():
    return dealer_body(name="广州建材经销部", registered_on="2018-05-01")


def test_valid_dealer_onboards(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer())
    assert r.status_code == 201, r.text
    assert r.json()["id"].startswith("dlr_")


def test_validation_names_every_failing_field(client, platform):
    body = good_dealer() | {"registered_on": "not-a-date", "name": ""}
    del body["credit_code"]
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"body.credit_code", "body.registered_on", "body.name"}


def test_unknown_field_is_refused_by_name(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"colour": "red"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "body.colour", "reason": "unknown field", "type": "extra_forbidden"}]


def test_wrong_type_is_refused(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"name": ["a", "list"]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.name"


def test_a_body_that_is_not_utf8_is_a_400_naming_the_body(client, platform):
    r = client.post("/v1/dealers", content=b'{"name": "\xff"}',
                    headers={**platform, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"
    assert r.json()["errors"][0]["field"] == "body"


def test_malformed_json_is_400_problem(client, platform):
    r = client.post("/v1/dealers", headers=platform | {"content-type": "application/json"},
                    content=b'{"name": "x",')
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"][0]["field"] == "body"


def test_body_over_the_limit_is_413(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"name": "x" * 100_000})
    assert r.status_code == 413
    assert r.headers["content-type"].startswith(PROBLEM)


def test_streamed_body_over_the_limit_is_413(client, platform):
    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = client.post("/v1/dealers", headers=platform | {"content-type": "application/json"}, content=chunks())
    assert r.status_code == 413


def test_bad_check_character_names_the_field(client, platform):
    code = credit_code()
    bad = code[:-1] + ("0" if code[-1] != "0" else "1")
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"credit_code": bad})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.credit_code"


def test_a_bad_credit_code_is_named_together_with_every_other_kyb_failure(client, platform):
    code = credit_code()
    body = good_dealer() | {"credit_code": code[:-1] + ("0" if code[-1] != "0" else "1"),
                            "licence_expires_on": "2020-01-01", "account_number": "12"}
    body["legal_representative"] = body["legal_representative"] | {"phone": "123"}
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "body.credit_code", "body.licence_expires_on", "body.account_number", "body.legal_representative.phone"}


def test_a_supplier_with_a_bad_credit_code_and_a_bad_account_has_both_named(client, platform):
    code = credit_code()
    body = {"credit_code": code[:-1] + ("0" if code[-1] != "0" else "1"), "name": "S", "account_number": "12"}
    r = client.post("/v1/suppliers", headers=platform, json=body)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"body.credit_code", "body.account_number"}


def test_a_dealer_registered_in_the_future_is_refused(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"registered_on": "2999-01-01"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.registered_on"]


def test_duplicate_dealer_is_409(client, platform):
    body = good_dealer()
    assert client.post("/v1/dealers", headers=platform, json=body).status_code == 201
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "credit_code"


def test_float_money_is_refused(client, db):
    admin = auth(make_api_key(db, "admin"))
    body = {"name": "B", "credit_code": credit_code(), "quota": 1000000.5, "apr": "0.06",
            "max_line_amount": "100000.00"}
    r = client.post("/v1/banks", headers=admin, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.quota"


def test_money_round_trips_as_decimal_strings(client, db):
    admin = auth(make_api_key(db, "admin"))
    body = {"name": "B", "credit_code": credit_code(), "quota": "1000000.10", "apr": "0.0650",
            "max_line_amount": "100000"}
    r = client.post("/v1/banks", headers=admin, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["quota"] == "1000000.10"
    assert r.json()["max_line_amount"] == "100000.00"
    assert r.json()["apr"] == "0.065"


def test_unknown_route_is_404_problem(client):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)


def test_wrong_method_is_405_problem(client):
    r = client.delete("/healthz")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith(PROBLEM)


def test_unexpected_error_is_500_without_a_stack_trace(db, settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(settings=settings, database=db)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.json()["request_id"]


def test_text_with_a_nul_character_is_refused_by_field_not_with_a_500(client, platform):
    r = client.post("/v1/dealers", headers=platform, json=good_dealer() | {"name": "x\u0000y"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.name"]
    body = good_dealer()
    body["legal_representative"] = body["legal_representative"] | {"name": "张\u0000伟"}
    r = client.post("/v1/dealers", headers=platform, json=body)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["body.legal_representative.name"]


def test_a_nul_character_in_the_path_or_query_is_a_400_problem_not_a_500(client, platform):
    for url in ("/v1/dealers/dlr%00x", "/v1/dealers/dlr_x/consents?x=%00"):
        r = client.get(url, headers=platform)
        assert r.status_code == 400, url
        assert r.headers["content-type"].startswith(PROBLEM)


def test_a_since_out_of_range_in_utc_is_refused_by_name(client, db):
    admin = auth(make_api_key(db, "admin"))
    r = client.get("/v1/decisions", params={"since": "0001-01-01T00:00:00+14:00"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "since"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/banks", {"name": "B", "credit_code": "91310000MA1FL4B24G", "quota": "1.00", "apr": "0.05",
                   "max_line_amount": "1.00", "min_tenor_days": 90, "max_tenor_days": 30}, "body.min_tenor_days"),
    ("/v1/guarantors", {"name": "G", "credit_code": "91330000MA2CFWE65J", "net_assets": "1.00",
                        "single_client_cap": "0.2", "related_party_cap": "0.1"}, "body.related_party_cap"),
])
def test_a_rule_between_two_fields_names_the_field_it_refuses(client, db, path, body, field):
    from tests.factories import make_api_key

    admin = {"Authorization": f"Bearer {make_api_key(db, 'admin')}"}
    r = client.post(path, json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
