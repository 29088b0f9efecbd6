def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_and_migrations(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_openapi_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/v1/dealers", "/v1/suppliers", "/v1/banks", "/healthz", "/readyz", "/metrics"):
        assert p in paths


def test_metrics_count_requests_by_route_and_status(client):
    client.get("/healthz")
    client.get("/v1/clients/me")
    text = client.get("/metrics").text
    assert 'risk_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/v1/clients/me",status="401"' in text
    assert "risk_http_request_duration_seconds_bucket" in text


def test_every_response_carries_a_request_id(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_access_log_lines_are_json_with_the_request_id(client, caplog):
    import json
    import logging

    from api.observability import JsonLogFormatter

    with caplog.at_level(logging.INFO, logger="risk_engine.access"):
        client.get("/healthz", headers={"X-Request-ID": "log-me"})
    record = next(r for r in caplog.records if r.name == "risk_engine.access")
    line = json.loads(JsonLogFormatter().format(record))
    assert line["status"] == 200 and line["route"] == "/healthz" and line["msg"] == "request"
